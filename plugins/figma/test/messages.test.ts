import { describe, expect, it } from "vitest";
import { parseMainMessage, parseUiMessage, type JobOrder } from "../src/core/messages.js";

const order: JobOrder = {
  jobId: "figma-1", command: "fill", mode: "fill", params: { seed: 1 }, size: { width: 64, height: 64 },
  mask: "centre", targets: ["1:2"], label: "Card",
};
const brief = { mode: "fill", prompt: "", negativePrompt: "", variants: 2, seed: null, engine: null, model: null, style: "", loras: [], edges: false, references: [] };

describe("messages between main thread and UI", () => {
  it("accepts every well-formed message", () => {
    expect(parseMainMessage({ type: "job", order, source: new Uint8Array(4), references: [new Uint8Array(8)] })).not.toBeNull();
    expect(parseMainMessage({ type: "init", token: "t", agentUrl: "ws://x", command: null, selection: { frames: 0, textBrief: "" } })).not.toBeNull();
    expect(parseUiMessage({ type: "run", command: "fill", brief, rules: { multiple: 8, nativeMin: 64, maxPixels: 100 } })).not.toBeNull();
    expect(parseUiMessage({ type: "image", jobId: "j", target: "1:2", variant: 0, seed: 3, png: new Uint8Array(8) })).not.toBeNull();
    expect(parseUiMessage({ type: "finished", jobId: "j", state: "done", recipe: {}, message: "" })).not.toBeNull();
  });

  it("drops anything else instead of half-handling it", () => {
    for (const bad of [null, 7, "ready", {}, { type: "toString" }, { type: "nope" }, { type: "image", jobId: "j", target: "t", variant: 0, seed: 1, png: [1, 2] }]) {
      expect(parseUiMessage(bad)).toBeNull();
    }
    expect(parseUiMessage({ type: "run", command: "delete", brief, rules: { multiple: 8, nativeMin: 64, maxPixels: 1 } })).toBeNull();
    expect(parseMainMessage({ type: "job", order: { ...order, targets: [] }, source: null })).toBeNull();
    expect(parseMainMessage({ type: "job", order: { ...order, size: { width: 0, height: 3 } }, source: null })).toBeNull();
    expect(parseMainMessage({ type: "job", order, source: null, references: ["not bytes"] })).toBeNull();
    const heavy = { ...brief, references: [{ nodeId: "1:9", name: "Board", weight: 3, focus: "all" }] };
    expect(parseUiMessage({ type: "run", command: "fill", brief: heavy, rules: { multiple: 8, nativeMin: 64, maxPixels: 100 } })).toBeNull();
  });

  it("carries one image per message", () => {
    // Structured cloning keeps bytes as bytes: the same check passes after a clone.
    const cloned = structuredClone({ type: "image", jobId: "j", target: "1:2", variant: 1, seed: 4, png: new Uint8Array([1, 2, 3]) });
    expect(parseUiMessage(cloned)).toMatchObject({ png: new Uint8Array([1, 2, 3]) });
  });
});

import { describe, expect, it } from "vitest";
import { modeInfo, newJobId, paramsFor, promptFor, randomSeed, type Brief } from "../src/core/brief.js";

const brief: Brief = { mode: "generate", prompt: "", negativePrompt: " text ", variants: 3, seed: 5, engine: "diffusers", model: "sd15", style: "", loras: [], edges: false, references: [] };

describe("the brief", () => {
  it("takes the prompt box first, else a selected text layer", () => {
    expect(promptFor({ ...brief, prompt: "a bench" }, "from text")).toBe("a bench");
    expect(promptFor(brief, "from text")).toBe("from text");
  });

  it("names the agent's style and the chosen LoRAs in the params", () => {
    const params = paramsFor({ ...brief, style: "ink-wash", loras: [{ name: "ink", weight: 0.8 }] }, "", 1, 1);
    expect(params).toMatchObject({ style: "ink-wash", loras: [{ name: "ink", weight: 0.8 }] });
  });

  it("asks for a canny control derived from the frame, only in modes that send the frame", () => {
    expect(paramsFor({ ...brief, mode: "fill", edges: true }, "", 1, 1).controls).toEqual([{ kind: "canny", image: "source" }]);
    expect(paramsFor({ ...brief, mode: "generate", edges: true }, "", 1, 1).controls).toBeUndefined();
  });

  it("becomes protocol params", () => {
    expect(paramsFor(brief, "lighthouse", 7, 2)).toEqual({ prompt: "lighthouse", negative_prompt: "text", variants: 2, seed: 7, engine: "diffusers", model: "sd15" });
    expect(paramsFor({ ...brief, engine: null, model: null }, "", 2 ** 32 + 1, 1).seed).toBe(1);
  });

  it("draws seeds in the protocol's range", () => {
    expect(randomSeed(() => 0)).toBe(0);
    expect(randomSeed(() => 0.9999999999)).toBeLessThanOrEqual(0xffffffff);
  });

  it("makes job ids the agent accepts, each new", () => {
    const ids = new Set(Array.from({ length: 50 }, () => newJobId()));
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
  });

  it("knows which modes start from the frame's pixels", () => {
    expect(modeInfo("generate")).toMatchObject({ needsImage: false, mask: "none" });
    expect(modeInfo("fill")).toMatchObject({ needsImage: true, mask: "centre" });
    expect(() => modeInfo("expand")).toThrow();
  });
});

// Consistent sets on the main thread, against the recording fake: one recipe
// over frames of different sizes, the set id kept on each frame, and the whole
// set again with one new seed.
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { JobOrder, MainToUi } from "../src/core/messages.js";
import { decodePng, encodePng } from "../src/core/png.js";
import type { Recipe } from "../src/core/protocol.js";
import { decodeRecipe } from "../src/core/recipe.js";
import { startPlugin } from "../src/main/plugin.js";
import { createFakeFigma, install, render, type FakeFigma, type FakeNode } from "./fake-figma.js";

const rules = { multiple: 8, nativeMin: 64, maxPixels: 50_000_000 };
const brief = {
  mode: "fill", prompt: "a kite", negativePrompt: "", variants: 3, seed: 7, engine: "diffusers", model: "sd15",
  style: "ink-wash", loras: [{ name: "ink", weight: 0.8 }], edges: true, references: [] as { nodeId: string; name: string; weight: number; focus: string }[],
};

let fake: FakeFigma;
let frames: FakeNode[];
const jobs = (): Extract<MainToUi, { type: "job" }>[] => fake.toUi.filter((m): m is Extract<MainToUi, { type: "job" }> => (m as MainToUi).type === "job");
const agentRecipe = (order: JobOrder): Recipe => ({
  underpaint: "0.1.0", engine: "diffusers", model: { name: "sd15", sha256: "ef".repeat(32) }, mode: order.mode, params: { ...order.params, style: null, steps: 2 }, seeds: [order.params.seed!],
  document: order.size, region: { x: 0, y: 0, ...order.size }, style: "ink-wash", set_id: order.set!.id,
});

/** Every order delivered and finished as the UI would after the agent's `done`. */
async function complete(orders: JobOrder[]): Promise<void> {
  for (const order of orders) {
    const image = encodePng(new Uint8Array(order.size.width * order.size.height * 4).fill(60), order.size);
    await fake.fromUi({ type: "image", jobId: order.jobId, target: order.targets[0], variant: 0, seed: order.params.seed, png: image });
    await fake.fromUi({ type: "finished", jobId: order.jobId, state: "done", recipe: agentRecipe(order), message: "" });
  }
}

beforeEach(async () => {
  fake = createFakeFigma();
  install(fake);
  startPlugin();
  frames = [
    fake.frame("Banner", { x: 0, y: 0, width: 128, height: 64 }, { r: 0.9, g: 0.3, b: 0.2 }),
    fake.frame("Square", { x: 200, y: 0, width: 64, height: 64 }, { r: 0.2, g: 0.7, b: 0.3 }),
    fake.frame("Story", { x: 300, y: 0, width: 64, height: 112 }, { r: 0.2, g: 0.3, b: 0.9 }),
  ];
  fake.select(...frames);
  await fake.fromUi({ type: "run", command: "set", brief, rules });
});

describe("Fill as a set", () => {
  it("orders one job per frame, all of one set, with one recipe and seed", () => {
    const orders = jobs().map((j) => j.order);
    expect(orders.map((o) => o.targets)).toEqual(frames.map((f) => [f.id]));
    expect(new Set(orders.map((o) => o.set?.id)).size).toBe(1);
    expect(orders.every((o) => o.set?.count === 3 && o.command === "set")).toBe(true);
    expect(orders.map((o) => o.params)).toEqual(Array(3).fill({
      prompt: "a kite", negative_prompt: "", variants: 1, seed: 7, engine: "diffusers", model: "sd15", style: "ink-wash",
      loras: [{ name: "ink", weight: 0.8 }], controls: [{ kind: "canny", image: "source" }],
    }));
  });

  it("sends each frame's own pixels at its own size", () => {
    const sent = jobs().map((j) => decodePng(j.source!));
    expect(sent.map((p) => [p.width, p.height])).toEqual([[128, 64], [64, 64], [64, 112]]);
    for (const [i, frame] of frames.entries()) expect(Buffer.from(sent[i].data).equals(Buffer.from(render(frame.fills, frame.width, frame.height)))).toBe(true);
  });

  it("keeps the recipe and the set id on each frame", async () => {
    const orders = jobs().map((j) => j.order);
    await complete(orders);
    for (const frame of frames) {
      const record = decodeRecipe(frame.getPluginData("recipe"))!;
      expect(record.setId).toBe(orders[0].set!.id);
      expect(record.recipe).toMatchObject({ style: "ink-wash", set_id: orders[0].set!.id, params: { loras: [{ name: "ink", weight: 0.8 }] } });
    }
  });
});

describe("Vary on one frame of a set", () => {
  it("keeps the frame in its set", async () => {
    const orders = jobs().map((j) => j.order);
    await complete(orders);
    Object.assign(fake.api, { command: "vary" });
    fake.toUi.length = 0;
    startPlugin();
    fake.select(frames[0]);
    await fake.fromUi({ type: "connected", engines: ["diffusers"] });
    const [{ order }] = jobs();
    expect(order).toMatchObject({ command: "vary", targets: [frames[0].id] });
    await fake.fromUi({ type: "image", jobId: order.jobId, target: frames[0].id, variant: 0, seed: order.params.seed, png: encodePng(new Uint8Array(128 * 64 * 4), { width: 128, height: 64 }) });
    expect(decodeRecipe(frames[0].getPluginData("recipe"))).toMatchObject({ jobId: order.jobId, setId: orders[0].set!.id });
  });
});

describe("Regenerate set", () => {
  it("orders every frame of the selected frame's set again, one new seed for all, as a new set", async () => {
    const first = jobs().map((j) => j.order);
    await complete(first);
    fake.toUi.length = 0;
    vi.spyOn(Math, "random").mockReturnValue(0.25);
    fake.select(frames[1]);
    await fake.fromUi({ type: "reseed-set" });
    const again = jobs().map((j) => j.order);
    expect(again.map((o) => o.targets)).toEqual(frames.map((f) => [f.id]));
    expect(again.every((o) => o.command === "reseed-set" && o.params.seed === 2 ** 30 && o.set?.count === 3)).toBe(true);
    expect(new Set(again.map((o) => o.set!.id))).toEqual(new Set([again[0].set!.id]));
    expect(again[0].set!.id).not.toBe(first[0].set!.id);
    expect(again.map((o) => o.size)).toEqual(first.map((o) => o.size));
    expect(again[0].params).toMatchObject({ style: null, steps: 2, loras: [{ name: "ink", weight: 0.8 }] });
    vi.restoreAllMocks();
  });

  it("starts again from the pixels each frame had before the set", async () => {
    const before = frames.map((f) => render(f.fills, f.width, f.height));
    await complete(jobs().map((j) => j.order));
    fake.toUi.length = 0;
    await fake.fromUi({ type: "reseed-set" });
    const sent = jobs().map((j) => decodePng(j.source!).data);
    expect(sent.map((data, i) => Buffer.from(data).equals(Buffer.from(before[i])))).toEqual([true, true, true]);
  });

  it("says what to select when no selected frame belongs to a set", async () => {
    fake.select(fake.frame("Plain", { x: 0, y: 200, width: 64, height: 64 }));
    await fake.fromUi({ type: "reseed-set" });
    expect(fake.notices.at(-1)).toEqual({ text: "Select a frame of a set that Underpaint filled.", error: false });
  });
});

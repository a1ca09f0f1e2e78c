// Reference images on the main thread, against the recording fake: a selected
// node becomes a reference, each job exports it (PNG, at most 512 px a side)
// and carries it beside params.references, a set sends one board for every
// frame, and Regenerate set, Vary and Make variants export it again.
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { JobOrder, MainToUi } from "../src/core/messages.js";
import { decodePng, encodePng } from "../src/core/png.js";
import type { Recipe } from "../src/core/protocol.js";
import { decodeRecipe } from "../src/core/recipe.js";
import { startPlugin } from "../src/main/plugin.js";
import { createFakeFigma, install, render, type FakeFigma, type FakeNode } from "./fake-figma.js";

const rules = { multiple: 8, nativeMin: 64, maxPixels: 50_000_000 };
let fake: FakeFigma;
let board: FakeNode;
let frames: FakeNode[];
const brief = () => ({
  mode: "fill", prompt: "a kite", negativePrompt: "", variants: 2, seed: 7, engine: "diffusers", model: "sd15", style: "", loras: [], edges: false,
  references: [{ nodeId: board.id, name: board.name, weight: 0.8, focus: "style" }],
});
type JobMessage = Extract<MainToUi, { type: "job" }>;
const jobs = (): JobMessage[] => fake.toUi.filter((m): m is JobMessage => (m as MainToUi).type === "job");
const boardPng = (): Uint8Array => render(board.fills, 512, 300);

/** Every order placed and finished as the UI would after the agent's `done`. */
async function complete(orders: JobOrder[]): Promise<void> {
  for (const order of orders) {
    for (const [variant, target] of order.targets.entries()) {
      const png = encodePng(new Uint8Array(order.size.width * order.size.height * 4).fill(90), order.size);
      await fake.fromUi({ type: "image", jobId: order.jobId, target, variant, seed: order.params.seed! + variant, png });
    }
    const recipe: Recipe = {
      engine: "diffusers", mode: order.mode, seeds: [order.params.seed!], document: order.size, region: { x: 0, y: 0, ...order.size },
      params: { ...order.params, references: [{ weight: 0.8, focus: "style", model: "ip-sd15", image_sha256: "ab".repeat(32) }] }, ...(order.set && { set_id: order.set.id }),
    };
    await fake.fromUi({ type: "finished", jobId: order.jobId, state: "done", recipe, message: "" });
  }
}

beforeEach(() => {
  fake = createFakeFigma();
  install(fake);
  startPlugin();
  board = fake.frame("Brand board", { x: 0, y: 300, width: 1024, height: 600 }, { r: 0.9, g: 0.6, b: 0.1 });
  frames = [fake.frame("Banner", { x: 0, y: 0, width: 128, height: 64 }), fake.frame("Square", { x: 200, y: 0, width: 64, height: 64 })];
});

describe("a node as a reference", () => {
  it("names the selected node to the UI when Use selection is pressed", async () => {
    fake.select(board);
    await fake.fromUi({ type: "pick-reference" });
    expect(fake.toUi.at(-1)).toEqual({ type: "reference", nodeId: board.id, name: "Brand board" });
  });

  it("says what to select when nothing is", async () => {
    fake.select();
    await fake.fromUi({ type: "pick-reference" });
    expect(fake.notices.at(-1)).toEqual({ text: "Select the node to use as a reference (a brand board frame, an image, a group), then press Use selection.", error: false });
  });

  it("exports the reference as PNG at most 512 px a side and sends it with params.references", async () => {
    fake.select(frames[0]);
    await fake.fromUi({ type: "run", command: "fill", brief: brief(), rules });
    expect(board.exports).toEqual([{ format: "PNG", constraint: { type: "WIDTH", value: 512 } }]);
    const [job] = jobs();
    expect(job.order).toMatchObject({ references: [board.id], params: { references: [{ weight: 0.8, focus: "style" }] } });
    expect(job.references).toHaveLength(1);
    const sent = decodePng(job.references[0]);
    expect([sent.width, sent.height]).toEqual([512, 300]);
    expect(Buffer.from(sent.data).equals(Buffer.from(boardPng()))).toBe(true);
  });

  it("makes a brand board the reference of a whole set, exported once", async () => {
    fake.select(...frames);
    await fake.fromUi({ type: "run", command: "set", brief: brief(), rules });
    expect(board.exports).toHaveLength(1);
    expect(jobs().map((j) => [j.order.set?.count, j.order.references, j.references.length])).toEqual([[2, [board.id], 1], [2, [board.id], 1]]);
  });
});

describe("running again keeps the references", () => {
  it("Regenerate set exports the board again and resends it with the set's recipe", async () => {
    fake.select(...frames);
    await fake.fromUi({ type: "run", command: "set", brief: brief(), rules });
    await complete(jobs().map((j) => j.order));
    expect(decodeRecipe(frames[0].getPluginData("recipe"))?.references).toEqual([board.id]);
    fake.toUi.length = 0;
    fake.select(frames[1]);
    await fake.fromUi({ type: "reseed-set" });
    expect(board.exports).toHaveLength(2);
    for (const job of jobs()) {
      expect(job.order).toMatchObject({ command: "reseed-set", references: [board.id], params: { references: [{ weight: 0.8, focus: "style", model: "ip-sd15" }] } });
      expect(Buffer.from(decodePng(job.references[0]).data).equals(Buffer.from(boardPng()))).toBe(true);
    }
  });

  it("Vary changes only the seed: the same params and references, the board resent", async () => {
    fake.select(frames[0]);
    await fake.fromUi({ type: "run", command: "fill", brief: brief(), rules });
    const [first] = jobs().map((j) => j.order);
    await complete([first]);
    fake.toUi.length = 0;
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    Object.assign(fake.api, { command: "vary" });
    startPlugin();
    await fake.fromUi({ type: "connected", engines: ["diffusers"] });
    vi.restoreAllMocks();
    const [job] = jobs();
    const { seed, ...rest } = job.order.params;
    const { seed: firstSeed, ...firstRest } = first.params;
    expect(seed).toBe(2 ** 31);
    expect(seed).not.toBe(firstSeed);
    expect(rest).toEqual({ ...firstRest, references: [{ weight: 0.8, focus: "style", model: "ip-sd15", image_sha256: "ab".repeat(32) }] });
    expect(job.order.references).toEqual([board.id]);
    expect(job.references).toHaveLength(1);
  });

  it("Make variants sends the references with its one job", async () => {
    fake.select(frames[1]);
    await fake.fromUi({ type: "run", command: "variants", brief: brief(), rules });
    const [job] = jobs();
    expect(job.order).toMatchObject({ command: "variants", references: [board.id], params: { variants: 2, references: [{ weight: 0.8 }] } });
    expect(job.references).toHaveLength(1);
  });

  it("says so when a reference node was deleted before a relaunch", async () => {
    fake.select(frames[0]);
    await fake.fromUi({ type: "run", command: "fill", brief: brief(), rules });
    await complete(jobs().map((j) => j.order));
    board.remove();
    fake.toUi.length = 0;
    Object.assign(fake.api, { command: "regenerate" });
    startPlugin();
    await fake.fromUi({ type: "connected", engines: ["diffusers"] });
    expect(jobs()).toEqual([]);
    expect(fake.notices.at(-1)).toEqual({ text: "A reference image of this job was deleted from the file: pick the reference again and fill anew.", error: false });
  });
});

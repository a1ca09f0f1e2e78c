// The main thread against the fake figma global: the nodes, fills, plugin data
// and relaunch data it creates, with the UI played by the test.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { JobOrder, MainToUi } from "../src/core/messages.js";
import { decodePng, encodePng } from "../src/core/png.js";
import type { Recipe } from "../src/core/protocol.js";
import { decodeRecipe } from "../src/core/recipe.js";
import { AGENT_URL_KEY, DEFAULT_AGENT_URL, startPlugin, TOKEN_KEY } from "../src/main/plugin.js";
import { createFakeFigma, install, render, type FakeFigma, type FakeNode } from "./fake-figma.js";

const rules = { multiple: 8, nativeMin: 128, maxPixels: 50_000_000 };
const brief = { mode: "fill", prompt: "", negativePrompt: "", variants: 3, seed: 100, engine: "classic", model: null, style: "", loras: [], edges: false, references: [] };
const png = (w: number, h: number, v = 90): Uint8Array => encodePng(new Uint8Array(w * h * 4).fill(v), { width: w, height: h });

const same = (x: Uint8Array, y: Uint8Array): boolean => Buffer.from(x).equals(Buffer.from(y));

let fake: FakeFigma;
function open(command = ""): FakeFigma {
  fake = createFakeFigma(command);
  install(fake, "<html>panel</html>");
  startPlugin();
  return fake;
}
const jobs = (): Extract<MainToUi, { type: "job" }>[] => fake.toUi.filter((m): m is Extract<MainToUi, { type: "job" }> => (m as MainToUi).type === "job");
const fullRecipe = (order: JobOrder, seeds: number[]): Recipe => ({
  underpaint: "0.1.0", engine: "classic", model: null, mode: order.mode, params: { ...order.params, engine: "classic" }, seeds,
  document: order.size, region: { x: 0, y: 0, ...order.size }, image_sha256: "ab".repeat(32), mask_sha256: "cd".repeat(32),
});
async function deliver(order: JobOrder, variant: number, seed: number, image = png(order.size.width, order.size.height)): Promise<void> {
  await fake.fromUi({ type: "image", jobId: order.jobId, target: order.targets[variant], variant, seed, png: image });
}

afterEach(() => vi.restoreAllMocks());

describe("opening the plugin", () => {
  beforeEach(() => void open());

  it("shows the panel and sends the stored token, the agent address and the selection", async () => {
    expect(fake.shownUi).toMatchObject({ html: "<html>panel</html>", options: { themeColors: true } });
    fake.storage.set(TOKEN_KEY, "secret");
    fake.select(fake.frame("Card", { x: 0, y: 0, width: 100, height: 100 }), fake.text("a lighthouse at dusk"));
    await fake.fromUi({ type: "ready" });
    expect(fake.toUi.at(-1)).toEqual({ type: "init", token: "secret", agentUrl: DEFAULT_AGENT_URL, command: null, selection: { frames: 1, textBrief: "a lighthouse at dusk" } });
  });

  it("keeps the pasted token in clientStorage", async () => {
    await fake.fromUi({ type: "save-token", token: "  pasted \n" });
    expect(fake.storage.get(TOKEN_KEY)).toBe("pasted");
  });

  it("uses an agent address a developer stored", async () => {
    fake.storage.set(AGENT_URL_KEY, "ws://127.0.0.1:9999/v1/ws");
    await fake.fromUi({ type: "ready" });
    expect(fake.toUi.at(-1)).toMatchObject({ agentUrl: "ws://127.0.0.1:9999/v1/ws", token: "" });
  });

  it("tells the panel when the selection changes", () => {
    fake.select(fake.frame("A", { x: 0, y: 0, width: 10, height: 10 }), fake.frame("B", { x: 20, y: 0, width: 10, height: 10 }));
    fake.fireSelectionChange();
    expect(fake.toUi.at(-1)).toEqual({ type: "selection", selection: { frames: 2, textBrief: "" } });
  });

  it("drops malformed messages", async () => {
    await fake.fromUi({ type: "image", jobId: "x" });
    await fake.fromUi("ready");
    expect(fake.toUi).toEqual([]);
    expect(fake.notices).toEqual([]);
  });
});

describe("Fill frames", () => {
  let a: FakeNode;
  let b: FakeNode;
  beforeEach(async () => {
    open();
    a = fake.frame("Hero", { x: 0, y: 0, width: 320, height: 200 }, { r: 1, g: 0.5, b: 0.2 });
    b = fake.frame("Thumb", { x: 400, y: 0, width: 150, height: 100 });
    fake.select(a, b, fake.text("a wooden bench"));
    await fake.fromUi({ type: "run", command: "fill", brief, rules });
  });

  it("orders one job per frame, fixed to the frame's id, with the frame's pixels at a snapped size", () => {
    const [first, second] = jobs();
    expect(first.order).toMatchObject({ command: "fill", mode: "fill", mask: "centre", targets: [a.id], size: { width: 320, height: 200 } });
    expect(second.order).toMatchObject({ targets: [b.id], size: { width: 152, height: 104 } });
    expect(first.order.params).toMatchObject({ seed: 100, variants: 1, prompt: "a wooden bench", engine: "classic" });
    expect(second.order.params.seed).toBe(101);
    const source = decodePng(first.source!);
    expect([source.width, source.height]).toEqual([320, 200]);
    expect(same(source.data, render(a.fills, 320, 200))).toBe(true);
    expect(a.exports).toEqual([{ format: "PNG", constraint: { type: "WIDTH", value: 320 } }]);
  });

  it("puts each result into its own frame as an image fill, with the recipe and relaunch data, one undo step each", async () => {
    const [first, second] = jobs();
    const oldFills = a.fills;
    fake.select(); // a changed selection must not matter: targets were fixed at submit time
    const image = png(320, 200, 7);
    await deliver(first.order, 0, 100, image);
    const [fill] = a.fills;
    expect(fill).toMatchObject({ type: "IMAGE", scaleMode: "FILL" });
    expect(fake.images.get(fill.imageHash!)).toEqual(image);
    expect(JSON.parse(a.getPluginData("source"))).toEqual(oldFills);
    expect(decodeRecipe(a.getPluginData("recipe"))).toMatchObject({ jobId: first.order.jobId, seed: 100, mask: "centre", recipe: { mode: "fill", seeds: [100] } });
    expect(Object.keys(a.getRelaunchData()).sort()).toEqual(["regenerate", "vary"]);
    expect(a.getRelaunchData().regenerate).toContain("seed 100");
    expect(fake.undoCommits).toBe(1);
    await deliver(second.order, 0, 101);
    expect(b.fills[0].type).toBe("IMAGE");
    expect(fake.undoCommits).toBe(2);
  });

  it("replaces the recipe with the agent's full one when the job is done", async () => {
    const [first] = jobs();
    await deliver(first.order, 0, 100);
    await fake.fromUi({ type: "finished", jobId: first.order.jobId, state: "done", recipe: fullRecipe(first.order, [100]), message: "" });
    expect(decodeRecipe(a.getPluginData("recipe"))?.recipe).toMatchObject({ underpaint: "0.1.0", image_sha256: "ab".repeat(32), seeds: [100] });
  });

  it("gives a notice, not an error, when a target was deleted meanwhile", async () => {
    const [first, second] = jobs();
    a.remove();
    await deliver(first.order, 0, 100);
    await deliver(second.order, 0, 101);
    expect(fake.notices).toEqual([{ text: expect.stringContaining("was deleted") as string, error: false }]);
    expect(b.fills[0].type).toBe("IMAGE");
  });

  it("sends no pixels for Generate", async () => {
    await fake.fromUi({ type: "run", command: "fill", brief: { ...brief, mode: "generate" }, rules });
    expect(jobs().slice(2).map((j) => [j.source, j.order.mask])).toEqual([[null, "none"], [null, "none"]]);
  });

  it("asks for a selection when nothing fillable is selected", async () => {
    fake.select();
    await fake.fromUi({ type: "run", command: "fill", brief, rules });
    expect(fake.notices.at(-1)).toEqual({ text: "Select one or more frames or rectangles first.", error: false });
    expect(fake.toUi.at(-1)).toMatchObject({ type: "notice" });
  });
});

describe("Make variants", () => {
  let source: FakeNode;
  let neighbour: FakeNode;
  beforeEach(async () => {
    open();
    source = fake.frame("Card", { x: 0, y: 0, width: 200, height: 100 });
    neighbour = fake.frame("Neighbour", { x: 260, y: 20, width: 100, height: 60 });
    fake.select(source);
    await fake.fromUi({ type: "run", command: "variants", brief: { ...brief, variants: 3 }, rules });
  });

  it("places N copies side by side, clear of other nodes, as the job's fixed targets", () => {
    const [{ order }] = jobs();
    const copies = order.targets.map((id) => fake.page.children.find((n) => n.id === id)!);
    expect(copies).toHaveLength(3);
    expect(order.params).toMatchObject({ variants: 3, seed: 100 });
    const boxes = [source, neighbour, ...copies];
    for (const [i, p] of boxes.entries()) {
      for (const q of boxes.slice(i + 1)) expect(p.x < q.x + q.width && q.x < p.x + p.width && p.y < q.y + q.height && q.y < p.y + p.height).toBe(false);
    }
    expect(copies.map((c) => c.y)).toEqual([0, 0, 0]);
    expect(copies.every((c) => c.width === 200 && c.height === 100)).toBe(true);
    expect(fake.undoCommits).toBe(1);
  });

  it("names each copy with its seed when its variant lands", async () => {
    const [{ order }] = jobs();
    for (const v of [0, 1, 2]) await deliver(order, v, 100 + v);
    const copies = order.targets.map((id) => fake.page.children.find((n) => n.id === id)!);
    expect(copies.map((c) => c.name)).toEqual(["Card · seed 100", "Card · seed 101", "Card · seed 102"]);
    expect(copies.map((c) => decodeRecipe(c.getPluginData("recipe"))?.variant)).toEqual([0, 1, 2]);
    expect(source.fills[0].type).toBe("SOLID");
  });

  it("removes the copies whose variant never came when the job is cancelled", async () => {
    const [{ order }] = jobs();
    await deliver(order, 0, 100);
    await fake.fromUi({ type: "finished", jobId: order.jobId, state: "cancelled", recipe: null, message: "Cancelled." });
    const left = order.targets.filter((id) => fake.page.children.some((n) => n.id === id));
    expect(left).toEqual([order.targets[0]]);
  });

  it("wants exactly one frame", async () => {
    fake.select(source, neighbour);
    await fake.fromUi({ type: "run", command: "variants", brief, rules });
    expect(fake.notices.at(-1)?.text).toBe("Select exactly one frame to make variants of.");
  });
});

describe("Regenerate and Vary", () => {
  async function filledNode(): Promise<{ node: FakeNode; order: JobOrder }> {
    open();
    const node = fake.frame("Hero", { x: 0, y: 0, width: 320, height: 200 }, { r: 0.2, g: 0.4, b: 0.9 });
    fake.select(node);
    await fake.fromUi({ type: "run", command: "fill", brief, rules });
    const [{ order }] = jobs();
    await deliver(order, 0, 100);
    await fake.fromUi({ type: "finished", jobId: order.jobId, state: "done", recipe: fullRecipe(order, [100]), message: "" });
    return { node, order };
  }

  /** The plugin started again on the same document by a relaunch button. */
  async function relaunch(command: string, node: FakeNode): Promise<Extract<MainToUi, { type: "job" }>> {
    Object.assign(fake.api, { command });
    fake.toUi.length = 0;
    startPlugin();
    fake.select(node);
    await fake.fromUi({ type: "ready" });
    expect(jobs()).toEqual([]); // nothing is sent before the panel has connected
    await fake.fromUi({ type: "connected", engines: ["classic"] });
    return jobs()[0];
  }

  it("Regenerate reruns the recipe with the same seed, from the pixels the node had before", async () => {
    const { node, order } = await filledNode();
    const before = JSON.parse(node.getPluginData("source")) as Parameters<typeof render>[0];
    const job = await relaunch("regenerate", node);
    expect(job.order).toMatchObject({ command: "regenerate", mode: "fill", mask: "centre", targets: [node.id], size: order.size });
    expect(job.order.params).toMatchObject({ seed: 100, variants: 1, engine: "classic" });
    expect(same(decodePng(job.source!).data, render(before, 320, 200))).toBe(true);
    expect(fake.page.children.filter((n) => n.name === "Hero")).toHaveLength(1); // the export copy is gone
  });

  it("Vary reruns it with a new seed into the same node", async () => {
    const { node } = await filledNode();
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const job = await relaunch("vary", node);
    expect(job.order.params.seed).toBe(2 ** 31);
    await deliver(job.order, 0, 2 ** 31);
    expect(decodeRecipe(node.getPluginData("recipe"))?.seed).toBe(2 ** 31);
    expect(node.getRelaunchData().vary).toContain(`seed ${2 ** 31}`);
  });

  it("explains when the selection has no recipe", async () => {
    open("regenerate");
    fake.select(fake.frame("Plain", { x: 0, y: 0, width: 10, height: 10 }));
    await fake.fromUi({ type: "connected", engines: [] });
    expect(fake.notices.at(-1)?.text).toContain("keeps the recipe");
  });
});

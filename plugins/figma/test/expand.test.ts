// Expand: the margins (typed or from an aspect), the grown canvas, and the
// main thread's host calls: the frame grows in the same undo step as its new fill.
import { beforeEach, describe, expect, it } from "vitest";
import { grownCanvas, marginsToAspect, scaleMargins } from "../src/core/expand.js";
import type { MainToUi } from "../src/core/messages.js";
import { decodePng, encodePng } from "../src/core/png.js";
import { startPlugin } from "../src/main/plugin.js";
import { createFakeFigma, install, type FakeFigma, type FakeNode } from "./fake-figma.js";

const rules = { multiple: 8, nativeMin: 64, maxPixels: 50_000_000 };
const brief = { mode: "fill", prompt: "dunes", negativePrompt: "", variants: 3, seed: 9, engine: "diffusers", model: "sd15", style: "", loras: [], edges: true, references: [] };
const margins = { left: 16, top: 0, right: 32, bottom: 8 };

describe("Expand's margins", () => {
  it("grow a frame too narrow for the aspect sideways, evenly", () => {
    expect(marginsToAspect({ width: 64, height: 64 }, 16 / 9)).toEqual({ left: 25, right: 25, top: 0, bottom: 0 });
  });

  it("grow a frame too wide for the aspect up and down, the odd pixel at the bottom", () => {
    expect(marginsToAspect({ width: 130, height: 64 }, 4 / 5)).toEqual({ left: 0, right: 0, top: 49, bottom: 50 });
  });

  it("are nothing for a frame already at the aspect", () => {
    expect(marginsToAspect({ width: 90, height: 60 }, 3 / 2)).toEqual({ left: 0, right: 0, top: 0, bottom: 0 });
  });

  it("scale with the job's pixel size", () => {
    expect(scaleMargins({ left: 10, top: 3, right: 0, bottom: 1 }, 2)).toEqual({ left: 20, top: 6, right: 0, bottom: 2 });
  });

  it("place the frame's pixels in a transparent grown canvas", () => {
    const source = new Uint8Array(2 * 1 * 4).fill(200);
    const grown = grownCanvas(source, { width: 2, height: 1 }, { left: 1, top: 1, right: 0, bottom: 0 });
    // 3 x 2: the first row and the first pixel of the second are new, then the frame's two pixels.
    expect([...grown]).toEqual([...Array<number>(16).fill(0), ...Array<number>(8).fill(200)]);
  });
});

describe("Expand on the main thread", () => {
  let fake: FakeFigma;
  let frame: FakeNode;
  let child: FakeNode;
  const jobs = (): Extract<MainToUi, { type: "job" }>[] => fake.toUi.filter((m): m is Extract<MainToUi, { type: "job" }> => (m as MainToUi).type === "job");

  beforeEach(async () => {
    fake = createFakeFigma();
    install(fake);
    startPlugin();
    frame = fake.frame("Poster", { x: 100, y: 50, width: 64, height: 48 });
    child = fake.text("Title");
    frame.appendChild(child);
    Object.assign(child, { x: 4, y: 6 });
    fake.select(frame);
    await fake.fromUi({ type: "expand", brief, rules, margins, aspect: null });
  });

  it("orders an expand job with the frame's pixels and the margins in job pixels", () => {
    const [{ order, source }] = jobs();
    expect(order).toMatchObject({ command: "expand", mode: "expand", mask: "none", size: { width: 64, height: 48 }, targets: [frame.id], grow: margins });
    expect(order.params).toMatchObject({ expand: margins, variants: 1, seed: 9, prompt: "dunes" });
    expect(order.params.controls).toBeUndefined();
    expect([decodePng(source!).width, decodePng(source!).height]).toEqual([64, 48]);
  });

  it("grows the frame, keeps its children in place on the canvas and fills it, as one undo step", async () => {
    const [{ order }] = jobs();
    const png = encodePng(new Uint8Array(112 * 56 * 4).fill(80), { width: 112, height: 56 });
    await fake.fromUi({ type: "image", jobId: order.jobId, target: frame.id, variant: 0, seed: 9, png });
    expect([frame.x, frame.y, frame.width, frame.height]).toEqual([84, 50, 112, 56]);
    expect([child.x, child.y]).toEqual([20, 6]);
    expect(fake.images.get(frame.fills[0].imageHash!)).toEqual(png);
    expect(fake.undoCommits).toBe(1);
  });

  it("says so when the frame already has the aspect asked for", async () => {
    await fake.fromUi({ type: "expand", brief, rules, margins, aspect: 64 / 48 });
    expect(fake.notices.at(-1)).toEqual({ text: "Poster already has that aspect.", error: false });
  });
});

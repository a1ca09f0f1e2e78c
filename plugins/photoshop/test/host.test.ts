// The Photoshop adapter against the recording fake: exact imaging calls and
// options, exact pixels, layer tree, masks and one history state per placement.
import { describe, expect, it } from "vitest";
import { createPhotoshopHost, GRAY, SRGB } from "../src/photoshop-host.js";
import type { Placement } from "../src/host.js";
import { FakePhotoshop, type FakeImageData, type FakeLayer } from "./fake-photoshop.js";

const W = 8;
const H = 6;

function composite(): Uint8Array {
  const data = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) data.set([i, 100 + i, 200 - i, 255], i * 4);
  return data;
}

/** A selection covering x 2..4, y 1..3 with a soft (128) right column. */
function selection(): Uint8Array {
  const mask = new Uint8Array(W * H);
  for (let y = 1; y < 4; y++) for (let x = 2; x < 5; x++) mask[y * W + x] = x === 4 ? 128 : 255;
  return mask;
}

function setup(init: Partial<Parameters<FakePhotoshop["addDocument"]>[0]> = {}) {
  const ps = new FakePhotoshop();
  const doc = ps.addDocument({ id: 7, width: W, height: H, composite: composite(), selection: selection(), ...init });
  const host = createPhotoshopHost(ps.modules(), { sleep: async () => undefined });
  return { ps, doc, host };
}

const placement = (over: Partial<Placement> = {}): Placement => ({
  groupName: "a red balloon",
  historyName: "Underpaint Fill: a red balloon",
  depth: 8,
  layers: [0, 1].map((v) => ({
    name: `Variant ${v + 1} (seed ${5 + v})`,
    bounds: { x: 1, y: 2, width: 2, height: 1 },
    visible: v === 0,
    pixels: Uint8Array.from([v, 1, 2, 255, 3, 4, 5, 255]),
    mask: Uint8Array.from([255, 64]),
  })),
  ...over,
});

describe("reading", () => {
  it("describes the active document and its selection in whole pixels", async () => {
    const { host } = setup({ bitsPerChannel: "bitDepth16" });
    expect(await host.activeDocument()).toEqual({ id: 7, title: "Untitled-7", path: "", width: W, height: H, facts: { mode: "RGBColorMode", bitsPerChannel: "bitDepth16" } });
    expect(await host.selectionBounds(7)).toEqual({ x: 2, y: 1, width: 3, height: 3 });
  });

  it("reports no selection and no document", async () => {
    const { ps, host } = setup({ selection: null });
    expect(await host.selectionBounds(7)).toBeNull();
    ps.active = null;
    expect(await host.activeDocument()).toBeNull();
  });

  it("reads the selection with getSelection only and pads Photoshop's trimmed data", async () => {
    const { ps, host } = setup();
    const mask = await host.readSelection(7, { x: 1, y: 0, width: 5, height: 5 });
    expect(ps.calls).toEqual([
      { fn: "core.executeAsModal", args: { commandName: "Read selection" } },
      { fn: "imaging.getSelection", args: { documentID: 7, sourceBounds: { left: 1, top: 0, right: 6, bottom: 5 } } },
    ]);
    const rows = [...Array(5)].map((_, y) => [...mask.subarray(y * 5, y * 5 + 5)]);
    expect(rows).toEqual([[0, 0, 0, 0, 0], [0, 255, 255, 128, 0], [0, 255, 255, 128, 0], [0, 255, 255, 128, 0], [0, 0, 0, 0, 0]]);
  });

  it("reads composite pixels as explicit 8-bit sRGB and makes flat RGB into opaque RGBA", async () => {
    const { ps, host } = setup();
    const rect = { x: 6, y: 4, width: 2, height: 2 };
    const pixels = await host.readPixels(7, rect);
    expect(ps.calls[1]).toEqual({ fn: "imaging.getPixels", args: { documentID: 7, sourceBounds: { left: 6, top: 4, right: 8, bottom: 6 }, colorSpace: "RGB", colorProfile: SRGB, componentSize: 8 } });
    const source = composite();
    const expected = [38, 39, 46, 47].flatMap((i) => [...source.subarray(i * 4, i * 4 + 4)]);
    expect([...pixels]).toEqual(expected);
  });

  it("leaves pixels Photoshop trimmed away transparent", async () => {
    const { host } = setup({ hasAlpha: true });
    // Half of this rectangle lies left of the canvas: the fake trims it like Photoshop.
    const pixels = await host.readPixels(7, { x: -1, y: 0, width: 2, height: 1 });
    expect([...pixels]).toEqual([0, 0, 0, 0, 0, 100, 200, 255]);
  });

  it("lists the document's layers, groups before their children", async () => {
    const ps = new FakePhotoshop();
    ps.addDocument({ id: 7, width: W, height: H, composite: composite(), layers: [{ name: "Sketch", content: new Uint8Array(W * H * 4) }] });
    const host = createPhotoshopHost(ps.modules(), { sleep: async () => undefined });
    await host.place(7, placement());
    const layers = await host.layers(7);
    expect(layers.map((l) => [l.name, l.kind, l.depth])).toEqual([
      ["a red balloon", "group", 0], ["Variant 1 (seed 5)", "pixel", 1], ["Variant 2 (seed 6)", "pixel", 1], ["Sketch", "pixel", 0],
    ]);
  });

  it("reads one layer's own pixels over exactly the rectangle, padding what Photoshop trims, with no edit", async () => {
    const content = new Uint8Array(W * H * 4);
    content.set([255, 255, 255, 255], (2 * W + 3) * 4); // one white stroke pixel at (3, 2)
    const { ps, doc, host } = setup({ layers: [{ name: "Sketch", content }] });
    const sketch = doc.layers[0];
    const pixels = await host.readLayerPixels(7, sketch.id, { x: 2, y: 1, width: 3, height: 2 });
    expect(ps.calls).toEqual([
      { fn: "core.executeAsModal", args: { commandName: "Read control layer" } },
      { fn: "imaging.getPixels", args: { documentID: 7, layerID: sketch.id, sourceBounds: { left: 2, top: 1, right: 5, bottom: 3 }, colorSpace: "RGB", colorProfile: SRGB, componentSize: 8 } },
    ]);
    const alpha = [...pixels].filter((_, i) => i % 4 === 3);
    expect(alpha).toEqual([0, 0, 0, 0, 255, 0]);
    expect(doc.history).toEqual(["Open"]);
    expect(doc.layers).toHaveLength(1);
  });

  it("waits while another plugin holds the modal state, then reads", async () => {
    const { ps, host } = setup();
    ps.busyFor = 2;
    await host.readSelection(7, { x: 2, y: 1, width: 3, height: 3 });
    expect(ps.names().filter((n) => n === "core.executeAsModal")).toHaveLength(3);
    ps.busyFor = 99;
    await expect(host.readSelection(7, { x: 2, y: 1, width: 3, height: 3 })).rejects.toThrow(/modal state/);
  });
});

describe("placing", () => {
  it("builds a group of masked layers at exact bounds in one history step", async () => {
    const { ps, doc, host } = setup();
    await host.place(7, placement());

    expect(doc.history).toEqual(["Open", "Underpaint Fill: a red balloon"]);
    expect(doc.layers).toHaveLength(1);
    const group = doc.layers[0];
    expect(group).toMatchObject({ name: "a red balloon", kind: "group" });
    expect(group.children.map((l: FakeLayer) => [l.name, l.visible])).toEqual([["Variant 1 (seed 5)", true], ["Variant 2 (seed 6)", false]]);

    const top = group.children[0];
    expect(top.pixels?.targetBounds).toEqual({ left: 1, top: 2, width: 2, height: 1 });
    const pixels = top.pixels!.imageData as FakeImageData;
    expect([...pixels.data]).toEqual([0, 1, 2, 255, 3, 4, 5, 255]);
    expect(pixels).toMatchObject({ width: 2, height: 1, components: 4, colorSpace: "RGB", colorProfile: SRGB, disposed: true });
    expect(top.mask?.fill).toBe(0);
    const mask = top.mask!.put!.imageData as FakeImageData;
    expect([...mask.data]).toEqual([255, 64]);
    expect(mask).toMatchObject({ components: 1, colorSpace: "Grayscale", colorProfile: GRAY, chunky: false });
    expect(top.mask!.put!.targetBounds).toEqual({ left: 1, top: 2, width: 2, height: 1 });

    expect(ps.names()).toEqual([
      "core.executeAsModal", "hostControl.suspendHistory", "createLayerGroup",
      // Variant 2 first: each layer goes to the top of the group.
      "createLayer", "move", "action.batchPlay", "imaging.createImageDataFromBuffer", "imaging.putPixels", "imaging.createImageDataFromBuffer", "imaging.putLayerMask", "Hide/Show layer",
      "createLayer", "move", "action.batchPlay", "imaging.createImageDataFromBuffer", "imaging.putPixels", "imaging.createImageDataFromBuffer", "imaging.putLayerMask", "Hide/Show layer",
      "hostControl.resumeHistory",
    ]);
    expect(ps.calls[0].args).toEqual({ commandName: "Underpaint Fill: a red balloon" });
    expect(ps.calls[1].args).toEqual({ documentID: 7, name: "Underpaint Fill: a red balloon" });
    expect(ps.calls.at(-1)!.args).toEqual({ historySuspensionID: 1, commit: true });
    expect(ps.calls.find((c) => c.fn === "action.batchPlay")!.args.command).toEqual({
      _obj: "make", new: { _class: "channel" }, at: { _ref: "channel", _enum: "channel", _value: "mask" }, using: { _enum: "userMaskEnabled", _value: "hideAll" },
    });
  });

  it("returns the ids of the placed group and its layers, and sees the selected layer with its group", async () => {
    const { doc, host } = setup({ path: "/work/a.psd" });
    const ids = await host.place(7, placement());
    const group = doc.layers[0];
    expect(ids).toEqual([group.id, group.children[1].id, group.children[0].id]);
    expect((await host.activeDocument())?.path).toBe("/work/a.psd");
    // The variant made last (the top one) is selected, as in Photoshop.
    expect(await host.selectedLayerIds(7)).toEqual([group.children[0].id, group.id]);
  });

  it("places into the job's document even when another one is active", async () => {
    const { ps, doc, host } = setup();
    const other = ps.addDocument({ id: 8, width: 4, height: 4, composite: new Uint8Array(64) });
    expect(ps.active).toBe(other);
    await host.place(7, placement());
    expect(doc.layers).toHaveLength(1);
    expect(other.layers).toHaveLength(0);
    expect(other.history).toEqual(["Open"]);
    // Brought forward before the suspension, so the mask lands on the job's layer.
    expect(ps.names().slice(0, 3)).toEqual(["core.executeAsModal", "app.activeDocument", "hostControl.suspendHistory"]);
    expect(ps.calls.filter((c) => c.fn.startsWith("imaging.put")).every((c) => c.args.documentID === 7)).toBe(true);
  });

  it("widens to 16 bits for 16-bit documents", async () => {
    const { ps, host } = setup({ bitsPerChannel: "bitDepth16" });
    await host.place(7, placement({ depth: 16, layers: placement().layers.slice(0, 1) }));
    const created = ps.calls.filter((c) => c.fn === "imaging.createImageDataFromBuffer").map((c) => c.args);
    expect(created).toEqual([
      { width: 2, height: 1, components: 4, chunky: true, colorSpace: "RGB", colorProfile: SRGB, fullRange: true, length: 8, type: "Uint16Array" },
      { width: 2, height: 1, components: 1, chunky: false, colorSpace: "Grayscale", colorProfile: GRAY, fullRange: true, length: 2, type: "Uint16Array" },
    ]);
  });

  it("grows the canvas by equal margins in one centred resize, in the placement's undo step", async () => {
    const { ps, doc, host } = setup();
    await host.place(7, placement({ grow: { left: 2, top: 2, right: 2, bottom: 2 } }));
    expect(ps.calls.filter((c) => c.fn === "resizeCanvas").map((c) => c.args)).toEqual([{ documentID: 7, width: 12, height: 10, anchor: "middle-center" }]);
    expect([doc.width, doc.height]).toEqual([12, 10]);
    expect(doc.history).toEqual(["Open", "Underpaint Fill: a red balloon"]);
  });

  it("grows the canvas by different margins per side: right and bottom first, then left and top", async () => {
    const { ps, doc, host } = setup();
    await host.place(7, placement({ grow: { left: 3, top: 0, right: 1, bottom: 4 } }));
    expect(ps.calls.filter((c) => c.fn === "resizeCanvas").map((c) => c.args)).toEqual([
      { documentID: 7, width: 9, height: 10, anchor: "top-left" },
      { documentID: 7, width: 12, height: 10, anchor: "bottom-right" },
    ]);
    expect(ps.names().indexOf("resizeCanvas")).toBeLessThan(ps.names().indexOf("createLayerGroup"));
    expect(doc.history).toEqual(["Open", "Underpaint Fill: a red balloon"]);
  });

  it("rolls the whole placement back when a step fails", async () => {
    const { ps, doc, host } = setup();
    const bad = placement();
    const modules = ps.modules();
    modules.imaging.putLayerMask = async () => {
      throw new Error("disk full");
    };
    const failing = createPhotoshopHost(modules, { sleep: async () => undefined });
    await expect(failing.place(7, bad)).rejects.toThrow("disk full");
    expect(doc.layers).toEqual([]);
    expect(doc.history).toEqual(["Open"]);
    expect(ps.calls.at(-1)).toEqual({ fn: "hostControl.resumeHistory", args: { historySuspensionID: 1, commit: false } });
    await host.place(7, bad);
    expect(doc.history).toHaveLength(2);
  });

  it("refuses bounds that are not whole pixels, and closed documents, before touching Photoshop", async () => {
    const { ps, host } = setup();
    const layers = placement().layers;
    await expect(host.place(7, placement({ layers: [{ ...layers[0], bounds: { x: 0.5, y: 0, width: 2, height: 1 } }] }))).rejects.toThrow(/whole pixels/);
    await expect(host.place(7, placement({ layers: [{ ...layers[0], mask: new Uint8Array(5) }] }))).rejects.toThrow(/mask bytes/);
    expect(ps.calls).toEqual([]);
    ps.documents = [];
    await expect(host.place(7, placement())).rejects.toThrow(/was closed/);
  });
});

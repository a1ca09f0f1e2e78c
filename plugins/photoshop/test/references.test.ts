// Reference images in the Photoshop plugin: the rules (references.ts), the UXP
// file picker over a recording fake of `uxp.storage`, a layer read whole with
// the imaging API over the recording Photoshop fake, and what travels as params.
import { describe, expect, it } from "vitest";
import { encode } from "fast-png";
import { paramsFor, type JobRequest } from "../src/job.js";
import { createPhotoshopHost, SRGB } from "../src/photoshop-host.js";
import type { ModelInfo } from "../src/protocol.js";
import { checkReference, pngSize, type ReferenceImage } from "../src/references.js";
import { createFilePicker } from "../src/uxp-files.js";
import { FakePhotoshop } from "./fake-photoshop.js";
import { FakeUxpStorage } from "./fake-uxp.js";

const png = encode({ width: 5, height: 3, data: new Uint8Array(5 * 3 * 4).fill(200), channels: 4, depth: 8 });
const sd15: ModelInfo = { name: "sd15", ip_adapters: ["ip-sd15"] };
const layerRef = (over: Partial<ReferenceImage> = {}): ReferenceImage => ({ source: { kind: "layer", layerId: 3 }, label: "Brand board", weight: 0.6, focus: "all", ...over });

describe("reference rules", () => {
  it("reads a PNG's size from its header", () => {
    expect(pngSize(png)).toEqual({ width: 5, height: 3 });
  });
  it("refuses a file that is not a PNG, saying what to do", () => {
    const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, ...new Array(40).fill(0)]);
    expect(pngSize(jpeg)).toEqual({ error: expect.stringMatching(/^That file is not a PNG image: save it as PNG, or place it as a layer/) });
  });
  it("takes a reference only on a model with an IP-Adapter", () => {
    expect(checkReference(layerRef(), [], { name: "plain" })).toEqual({ error: expect.stringMatching(/^The model 'plain' has no IP-Adapter/) });
    expect(checkReference(layerRef(), [], sd15)).toEqual(layerRef());
  });
  it("takes at most four references, each weighted 0 to 2", () => {
    expect(checkReference(layerRef(), [1, 2, 3, 4].map(() => layerRef()), sd15)).toEqual({ error: expect.stringMatching(/at most 4 reference images/) });
    expect(checkReference(layerRef({ weight: 2.5 }), [], sd15)).toEqual({ error: "A reference's weight must be between 0 and 2." });
  });
  it("sends each reference's weight and focus as params.references, in order, instead of a recipe's", () => {
    const request: JobRequest = {
      mode: "fill", prompt: "a kite", negativePrompt: "", variants: 1, seed: 7, strength: 1, expand: { left: 0, top: 0, right: 0, bottom: 0 },
      references: [layerRef(), layerRef({ source: { kind: "file", png, width: 5, height: 3 }, weight: 1.2, focus: "style" })],
      base: { references: [{ weight: 0.3, image_sha256: "0".repeat(64) }], steps: 2 },
    };
    expect(paramsFor(request)).toMatchObject({ steps: 2, references: [{ weight: 0.6, focus: "all" }, { weight: 1.2, focus: "style" }] });
    expect(paramsFor({ ...request, references: [] }).references).toBeUndefined();
  });
});

describe("UXP file picker", () => {
  it("opens the picker for PNG files, one file, and reads it as binary, byte for byte", async () => {
    const uxp = new FakeUxpStorage();
    uxp.willPick("moodboard.png", png);
    const picked = await createFilePicker(uxp).pickFile(["png"]);
    expect(uxp.calls).toEqual([
      { fn: "localFileSystem.getFileForOpening", args: { types: ["png"], allowMultiple: false } },
      { fn: "File.read", args: { name: "moodboard.png", format: "binary" } },
    ]);
    expect(picked?.name).toBe("moodboard.png");
    expect([...picked!.bytes]).toEqual([...png]);
  });
  it("answers null when the user cancels the picker", async () => {
    expect(await createFilePicker(new FakeUxpStorage()).pickFile(["png"])).toBeNull();
  });
});

describe("reading a reference layer", () => {
  it("reads the layer alone, wherever it has pixels, as 8-bit sRGB, and edits nothing", async () => {
    const W = 8, H = 6;
    const content = new Uint8Array(W * H * 4);
    for (const [x, y] of [[5, 1], [6, 1], [5, 2], [6, 2]]) content.set([10 * x, 20 * y, 99, 255], (y * W + x) * 4);
    const ps = new FakePhotoshop();
    const doc = ps.addDocument({ id: 7, width: W, height: H, composite: new Uint8Array(W * H * 4), layers: [{ name: "Brand board", content }] });
    const layer = doc.layers[0];
    const image = await createPhotoshopHost(ps.modules()).readLayerImage(7, layer.id);
    expect(ps.calls).toEqual([
      { fn: "core.executeAsModal", args: { commandName: "Read reference layer" } },
      { fn: "imaging.getPixels", args: { documentID: 7, layerID: layer.id, colorSpace: "RGB", colorProfile: SRGB, componentSize: 8 } },
    ]);
    expect(image.rect).toEqual({ x: 5, y: 1, width: 2, height: 2 });
    expect([...image.data]).toEqual([50, 20, 99, 255, 60, 20, 99, 255, 50, 40, 99, 255, 60, 40, 99, 255]);
    expect(doc.history).toEqual(["Open"]);
  });
});

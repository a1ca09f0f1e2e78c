// The plugin's pure modules: geometry, pixel padding, mode rules, names, form
// parsing, history and the panel state machine. No Photoshop, no agent.
import { describe, expect, it } from "vitest";
import { formFromRecipe, requestFromForm, type FormValues } from "../src/form.js";
import { boundsFromRect, intersect, isIntegerRect, rectFromBounds } from "../src/geometry.js";
import { outputArea, paramsFor, placementFor, type JobRequest } from "../src/job.js";
import { placementDepth, targetFor, transferFor } from "../src/modes.js";
import { groupName, historyName, newJobId } from "../src/naming.js";
import { fullMask, padInto, selectsAnything, toRgba, widenTo16 } from "../src/pixels.js";
import type { Recipe, VariantResult } from "../src/protocol.js";
import { initialState, reduce, view } from "../src/state.js";

describe("geometry", () => {
  it("rounds fractional selection bounds outwards to whole pixels", () => {
    expect(rectFromBounds({ left: 10.4, top: 5.6, right: 20.2, bottom: 9 })).toEqual({ x: 10, y: 5, width: 11, height: 4 });
    expect(boundsFromRect({ x: 3, y: 4, width: 5, height: 6 })).toEqual({ left: 3, top: 4, right: 8, bottom: 10 });
  });
  it("intersects and reports empty overlaps", () => {
    expect(intersect({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: -5, width: 10, height: 10 })).toEqual({ x: 5, y: 0, width: 5, height: 5 });
    expect(intersect({ x: 0, y: 0, width: 2, height: 2 }, { x: 5, y: 5, width: 1, height: 1 })).toMatchObject({ width: 0, height: 0 });
    expect(isIntegerRect({ x: 1, y: 2, width: 3.5, height: 1 })).toBe(false);
  });
});

describe("pixels", () => {
  it("pads trimmed data into the requested rectangle at the right offset", () => {
    const source = Uint8Array.from([1, 2, 3, 4]); // 2x2 at (11, 21)
    const out = padInto(source, { x: 11, y: 21, width: 2, height: 2 }, { x: 10, y: 20, width: 4, height: 3 }, 1);
    expect([...out]).toEqual([0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0]);
  });
  it("crops data that reaches beyond the rectangle and refuses a wrong length", () => {
    const source = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]); // 3x3 at (0, 0)
    expect([...padInto(source, { x: 0, y: 0, width: 3, height: 3 }, { x: 1, y: 1, width: 2, height: 2 }, 1)]).toEqual([5, 6, 8, 9]);
    expect(() => padInto(source, { x: 0, y: 0, width: 2, height: 2 }, { x: 0, y: 0, width: 2, height: 2 }, 1)).toThrow(/9 bytes/);
  });
  it("turns RGB into opaque RGBA and keeps RGBA as is", () => {
    expect([...toRgba(Uint8Array.from([1, 2, 3, 4, 5, 6]), 3)]).toEqual([1, 2, 3, 255, 4, 5, 6, 255]);
    const rgba = Uint8Array.from([1, 2, 3, 4]);
    expect(toRgba(rgba, 4)).toBe(rgba);
    expect(() => toRgba(rgba, 2)).toThrow(/components/);
  });
  it("widens 8-bit values to the full 16-bit range exactly", () => {
    expect([...widenTo16(Uint8Array.from([0, 1, 128, 255]))]).toEqual([0, 257, 32896, 65535]);
  });
  it("knows an empty mask", () => {
    expect(selectsAnything(new Uint8Array(4))).toBe(false);
    expect(selectsAnything(Uint8Array.from([0, 0, 1]))).toBe(true);
    expect([...fullMask(2, 1)]).toEqual([255, 255]);
  });
});

describe("modes", () => {
  it("places into 8- and 16-bit RGB and refuses others with what to do", () => {
    expect(placementDepth({ mode: "RGBColorMode", bitsPerChannel: "bitDepth8" })).toBe(8);
    expect(placementDepth({ mode: "RGBColorMode", bitsPerChannel: "bitDepth16" })).toBe(16);
    expect(placementDepth({ mode: "RGBColorMode", bitsPerChannel: "bitDepth32" })).toEqual({ refuse: expect.stringMatching(/32-bit.*16 Bits\/Channel/) });
    expect(placementDepth({ mode: "CMYKColorMode", bitsPerChannel: "bitDepth8" })).toEqual({ refuse: expect.stringMatching(/CMYK.*Image > Mode > RGB Color/) });
  });
  it("decides what no selection means, by mode", () => {
    const doc = { width: 100, height: 80 };
    expect(targetFor("fill", doc, null)).toMatchObject({ kind: "refuse", message: expect.stringMatching(/Select the area to fill/) });
    expect(targetFor("remove", doc, { x: 200, y: 0, width: 5, height: 5 })).toMatchObject({ kind: "refuse", message: expect.stringMatching(/outside the canvas/) });
    expect(targetFor("generate", doc, null)).toEqual({ kind: "canvas", rect: { x: 0, y: 0, width: 100, height: 80 } });
    expect(targetFor("refine", doc, null)).toMatchObject({ kind: "canvas" });
    expect(targetFor("expand", doc, { x: 1, y: 1, width: 5, height: 5 })).toMatchObject({ kind: "canvas" });
    expect(targetFor("fill", doc, { x: 90, y: 70, width: 20, height: 20 })).toEqual({ kind: "selection", rect: { x: 90, y: 70, width: 10, height: 10 } });
  });
  it("plans and sends only what each mode needs", () => {
    const selection = { kind: "selection" as const, rect: { x: 0, y: 0, width: 1, height: 1 } };
    const canvas = { kind: "canvas" as const, rect: { x: 0, y: 0, width: 1, height: 1 } };
    expect(transferFor("fill", selection)).toEqual({ plan: true, image: true, mask: true });
    expect(transferFor("generate", canvas)).toEqual({ plan: false, image: false, mask: false });
    expect(transferFor("generate", selection)).toEqual({ plan: false, image: false, mask: true });
    expect(transferFor("refine", canvas)).toEqual({ plan: false, image: true, mask: false });
    expect(transferFor("expand", canvas)).toEqual({ plan: false, image: true, mask: false });
  });
});

describe("naming", () => {
  it("names the group after the brief and the history step after the job", () => {
    expect(groupName("fill", "  a red   balloon ")).toBe("a red balloon");
    expect(groupName("remove", "")).toBe("Underpaint Remove");
    expect(groupName("fill", "x".repeat(80))).toHaveLength(60);
    expect(historyName("fill", "a red balloon")).toBe("Underpaint Fill: a red balloon");
    expect(historyName("remove", "")).toBe("Underpaint Remove");
  });
  it("makes job ids the protocol accepts", () => {
    expect(newJobId(7, 1_700_000_000_000, () => 0.5)).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
  });
});

const request: JobRequest = { mode: "expand", prompt: "sky", negativePrompt: "", variants: 2, seed: 9, strength: 0.5, expand: { left: 64, top: 0, right: 32, bottom: 8 } };

describe("job requests", () => {
  it("sends only the parameters the mode uses", () => {
    expect(paramsFor({ ...request, mode: "fill", model: "sd15" })).toEqual({ prompt: "sky", variants: 2, seed: 9, model: "sd15" });
    expect(paramsFor({ ...request, mode: "refine" }).strength).toBe(0.5);
    expect(paramsFor(request).expand).toEqual({ left: 64, top: 0, right: 32, bottom: 8 });
  });
  it("leaves an empty negative prompt out, so a style's applies", () => {
    expect(paramsFor({ ...request, mode: "fill", style: "ink-wash" })).toEqual({ prompt: "sky", variants: 2, seed: 9, style: "ink-wash" });
    expect(paramsFor({ ...request, mode: "fill", negativePrompt: "blur" }).negative_prompt).toBe("blur");
  });
  it("sends marked controls and LoRA chips in the protocol's fields", () => {
    const params = paramsFor({
      ...request, mode: "fill",
      controls: [{ layerId: 5, label: "Sketch", kind: "scribble", strength: 0.8, start: 0, end: 0.7 }, { layerId: null, label: "from the source", kind: "canny", strength: 1, start: 0.1, end: 1 }],
      loras: [{ name: "ink", weight: 0.5 }],
    });
    expect(params.controls).toEqual([
      { kind: "scribble", image: "sent", strength: 0.8, start: 0, end: 0.7 },
      { kind: "canny", image: "source", strength: 1, start: 0.1, end: 1 },
    ]);
    expect(params.loras).toEqual([{ name: "ink", weight: 0.5 }]);
  });
  it("runs a recipe again from its params, the request's own fields and marked controls winning", () => {
    const base = { steps: 2, guidance: 5, prompt: "old", seed: 1, style: "ink-wash", controls: [{ kind: "canny" as const, image: "sent" as const }] };
    expect(paramsFor({ ...request, mode: "fill", base })).toEqual({ steps: 2, guidance: 5, prompt: "sky", variants: 2, seed: 9 });
  });
  it("makes control images cover the output area: the region, grown by Expand's margins", () => {
    const region = { x: 0, y: 0, width: 100, height: 50 };
    expect(outputArea(request, region)).toEqual({ x: -64, y: 0, width: 196, height: 58 });
    expect(outputArea({ ...request, mode: "fill" }, region)).toBe(region);
  });
  it("orders layers by variant and grows the canvas for Expand", () => {
    const result = (variant: number): VariantResult => ({
      message: { type: "result", job_id: "j", seq: variant + 2, variant, seed: 9 + variant, layer: { name: `v${variant}`, bounds: { x: 0, y: 0, width: 1, height: 1 }, visible: variant === 0 }, pixels: { stream: "p", format: "rgba8", width: 1, height: 1, bytes: 4 }, mask: { stream: "m", format: "gray8", width: 1, height: 1, bytes: 1 } },
      pixels: new Uint8Array(4), mask: new Uint8Array(1),
    });
    const placement = placementFor(request, 8, [result(1), result(0)]);
    expect(placement.layers.map((l) => [l.name, l.visible])).toEqual([["v0", true], ["v1", false]]);
    expect(placement.grow).toEqual({ left: 64, top: 0, right: 32, bottom: 8 });
    expect(placementFor({ ...request, mode: "fill" }, 8, [result(0)]).grow).toBeUndefined();
    expect(placement.groupName).toBe("sky");
  });
});

const form: FormValues = { mode: "fill", prompt: "p", negativePrompt: "", engine: "classic", model: "", variants: "3", seed: "42", seedLocked: false, strength: "60", expandLeft: "0", expandTop: "0", expandRight: "128", expandBottom: "0" };

describe("form", () => {
  it("parses the fields into a request", () => {
    expect(requestFromForm(form, { max_variants: 16 })).toMatchObject({ mode: "fill", variants: 3, seed: 42, strength: 0.6, engine: "classic", model: undefined });
  });
  it("says which field is wrong", () => {
    expect(requestFromForm({ ...form, variants: "0" }, { max_variants: 16 })).toEqual({ error: expect.stringMatching(/Variants/) });
    expect(requestFromForm({ ...form, variants: "9" }, { max_variants: 8 })).toEqual({ error: expect.stringMatching(/1 to 8/) });
    expect(requestFromForm({ ...form, seed: "-1" }, { max_variants: 16 })).toEqual({ error: expect.stringMatching(/seed/) });
    expect(requestFromForm({ ...form, mode: "expand", expandTop: "" }, { max_variants: 16 })).toEqual({ error: expect.stringMatching(/Expand margin/) });
    expect(requestFromForm({ ...form, mode: "expand", expandRight: "0" }, { max_variants: 16 })).toEqual({ error: expect.stringMatching(/at least one side/) });
  });
  it("reads Expand's margins per side, and none for other modes", () => {
    expect(requestFromForm({ ...form, mode: "expand" }, { max_variants: 16 })).toMatchObject({ expand: { left: 0, top: 0, right: 128, bottom: 0 } });
    expect(requestFromForm(form, { max_variants: 16 })).toMatchObject({ expand: { left: 0, top: 0, right: 0, bottom: 0 } });
  });
  it("turns a recipe back into fields with the seed locked", () => {
    const recipe: Recipe = { engine: "classic", mode: "refine", params: { prompt: "a", negative_prompt: "b", variants: 2, seed: 5, strength: 0.3 }, seeds: [5, 6], document: { width: 1, height: 1 }, region: { x: 0, y: 0, width: 1, height: 1 } };
    expect(formFromRecipe(recipe)).toEqual({ mode: "refine", prompt: "a", negativePrompt: "b", variants: "2", seed: "5", seedLocked: true, engine: "classic", model: "", strength: "30" });
  });
});

describe("panel state machine", () => {
  const welcome = { type: "welcome" as const, protocol: "1.0", agent: { version: "0.1.0" }, capabilities: { default_engine: "classic", engines: [], formats: [], limits: { chunk_bytes: 1, max_message_bytes: 1, max_pixels: 1, max_variants: 1, queue_size: 1 } } };
  const online = reduce(initialState, { type: "connection", status: { state: "online", welcome } });

  it("generates only when online and idle", () => {
    expect(view(initialState).canGenerate).toBe(false);
    expect(online.connectionText).toBe("Connected to Underpaint 0.1.0 (classic engine).");
    expect(view(online).canGenerate).toBe(true);
  });
  it("walks a job through its phases with a bar that never goes back", () => {
    let s = reduce(online, { type: "start", variants: 3 });
    expect(view(s)).toMatchObject({ canGenerate: false, canCancel: false, showProgress: true });
    s = reduce(s, { type: "phase", phase: "running", jobId: "j1" });
    s = reduce(s, { type: "progress", fraction: 0.5 });
    s = reduce(s, { type: "progress", fraction: 0.25 });
    s = reduce(s, { type: "result", received: 1 });
    expect(view(s)).toMatchObject({ canCancel: true, progress: 50, progressLabel: "Generating… 1 of 3 variants ready." });
    s = reduce(s, { type: "finished", outcome: { state: "done", jobId: "j1", document: { id: 1, path: "" }, recipe: {} as Recipe, layers: 3, layerIds: [], warnings: [] } });
    expect(s.message).toEqual({ kind: "success", text: "Placed 3 layers in one undo step." });
    expect(view(s).canGenerate).toBe(true);
  });
  it("shows refusals, errors and lost connections in words", () => {
    expect(reduce(online, { type: "finished", outcome: { state: "refused", message: "Select." } }).message).toEqual({ kind: "info", text: "Select." });
    expect(reduce(online, { type: "finished", outcome: { state: "error", jobId: "j", code: "queue_full", message: "Full.", retryable: true } }).message?.text).toBe("Full. Try again.");
    const lost = reduce(online, { type: "connection", status: { state: "reconnecting", attempt: 2 } });
    expect(lost.connectionText).toMatch(/reconnecting \(attempt 2\)/);
    expect(view(lost).canGenerate).toBe(false);
  });
});

// The panel in headless Chromium (Debian's, driven by playwright-core) with the
// fake Photoshop, against the live agent: paste the token, type a prompt, press
// Generate, see progress, and find the layers in the fake. The screenshots are
// the ones in docs/photoshop.md.
import { inject, afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildPanel, pluginDir } from "../scripts/build.mjs";
import type { Recipe } from "../src/protocol.js";

const images = join(pluginDir, "../../docs/images");
let folder: string;
let context: BrowserContext;
let panelUrl: string;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), "underpaint-panel-"));
  const outdir = await buildPanel({ outdir: join(folder, "panel"), entry: join(pluginDir, "test/harness/harness.ts"), minify: false });
  panelUrl = pathToFileURL(join(outdir, "index.html")).href;
  context = await chromium.launchPersistentContext(join(folder, "profile"), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 340, height: 860 },
  });
  mkdirSync(images, { recursive: true });
});

afterAll(async () => {
  await context?.close();
  rmSync(folder, { recursive: true, force: true });
});

async function open(ws: string, scene = ""): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // file:// pages send `Origin: null`, which the agent accepts together with the token, like UXP's.
  await page.goto(`${panelUrl}?ws=${encodeURIComponent(ws)}&scene=${scene}`);
  return { page, errors };
}

async function pair(page: Page): Promise<void> {
  await page.fill("#token input", inject("agentToken"));
  await page.click("#connect");
  await expect.poll(() => page.textContent("#status")).toMatch(/^Connected to Underpaint/);
}

/** The values of the mode menu, in its order. */
const modeMenu = (page: Page) => (): Promise<(string | null)[]> =>
  page.$$eval("#mode sp-menu-item", (items) => items.map((i) => i.getAttribute("value")));

interface TestDocument {
  history: string[];
  layers: LayerView[];
  calls: string[];
  getPixels: Record<string, unknown>[];
  recipe: Recipe | null;
  jobId: string | null;
}

const testDocument = (page: Page): Promise<TestDocument> =>
  page.evaluate(() => (window as unknown as { underpaintTest: { document(): TestDocument } }).underpaintTest.document());

interface LayerView {
  id: number;
  name: string;
  kind: string;
  visible: boolean;
  bounds: Record<string, number> | null;
  maskBounds: Record<string, number> | null;
  pixelBytes: number;
  maskBytes: number;
  children: LayerView[];
}

describe("Photoshop panel in Chromium", () => {
  it("pairs, generates with progress, and places three masked layers", async () => {
    const { page, errors } = await open(inject("agentWs"));
    await expect.poll(() => page.textContent("#status")).toMatch(/Paste the pairing token/);
    await page.fill("#token input", inject("agentToken"));
    await page.click("#connect");
    await expect.poll(() => page.textContent("#status")).toMatch(/^Connected to Underpaint .* \(classic engine\)\.$/);
    expect(await page.textContent("#mode-hint")).toMatch(/classic engine ignores prompts/);
    expect(await page.$$eval("#engine sp-menu-item", (items) => items.map((i) => i.getAttribute("value")))).toEqual(["classic", "diffusers"]);

    await page.fill("#prompt textarea", "a red balloon over the harbour");
    await page.fill("#seed input", "1234");
    await page.check("#seed-lock input");
    await page.screenshot({ path: join(images, "photoshop-panel-ready.png") });

    await page.click("#generate");
    await page.waitForSelector("#progress-area:not([hidden])");
    await expect.poll(() => page.getAttribute("#progress", "value"), { timeout: 30_000 }).not.toBe("0");
    expect(await page.textContent("#progress-label")).toMatch(/Generating|Placing/);
    expect(await page.getAttribute("#generate", "disabled")).toBe("");
    await page.screenshot({ path: join(images, "photoshop-panel-progress.png") });

    // The classic engine's own warning follows: it ignores prompts.
    await expect.poll(() => page.textContent("#message"), { timeout: 50_000 }).toMatch(/^Placed 3 layers in one undo step\. The classic engine ignores prompts/);
    await page.dispatchEvent("body", "pointerenter");
    await expect.poll(() => page.locator("#history li").count()).toBe(1);
    expect(await page.textContent("#history li span")).toBe("a red balloon over the harbour · seed 1234 · 3 layers");
    await page.screenshot({ path: join(images, "photoshop-panel-done.png") });

    const doc = await testDocument(page);
    expect(doc.history).toEqual(["Open", "Underpaint Fill: a red balloon over the harbour"]);
    expect(doc.layers).toHaveLength(1);
    const group = doc.layers[0];
    expect(group).toMatchObject({ name: "a red balloon over the harbour", kind: "group" });
    expect(group.children.map((l) => l.visible)).toEqual([true, false, false]);
    group.children.forEach((layer, i) => {
      expect(layer.name).toContain(String(1234 + i));
      expect(layer.maskBounds).toEqual(layer.bounds);
      const b = layer.bounds!;
      expect(Number.isInteger(b.left) && Number.isInteger(b.top)).toBe(true);
      expect(b.left + b.width).toBeLessThanOrEqual(320);
      expect(b.top + b.height).toBeLessThanOrEqual(240);
      expect(layer.pixelBytes).toBe(b.width * b.height * 4);
      expect(layer.maskBytes).toBe(b.width * b.height);
    });
    expect(doc.calls.filter((c) => c === "hostControl.suspendHistory")).toHaveLength(1);

    // "Use again" puts the recipe back: same prompt, same seed, locked.
    await page.fill("#prompt textarea", "something else");
    await page.fill("#seed input", "1");
    await page.click("#history sp-action-button");
    expect(await page.inputValue("#prompt textarea")).toBe("a red balloon over the harbour");
    expect(await page.inputValue("#seed input")).toBe("1234");
    expect(await page.isChecked("#seed-lock input")).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("marks a sketch layer and the source as controls, a layer and a file as references, picks a style and a LoRA, and sends them to the tiny diffusers model", async () => {
    const { page, errors } = await open(inject("agentWs"), "controls");
    await pair(page);
    // Picking the style moves the engine and model pickers to the ones it runs on, and fills (and marks) the fields it sets.
    await page.selectOption("#style select", "ink-wash");
    expect(await page.inputValue("#engine select")).toBe("diffusers");
    expect(await page.inputValue("#model select")).toBe("sd15");
    expect(await page.textContent("#style-hint")).toBe(
      "Loose ink on wet paper (runs on sd15). Sets prompt “{prompt}, ink wash”, negative prompt “photo, blurry”, model sd15, LoRA ink 0.8, steps 2. Marked fields came from the style; what you change wins.",
    );
    expect(await page.inputValue("#negative input")).toBe("photo, blurry");
    expect(await page.textContent("#loras li span")).toBe("ink · 0.8");
    expect(await page.$$eval("[data-from-style]", (marked) => marked.map((m) => m.id))).toEqual(["negative", "engine", "model", "loras"]);
    expect(await page.$$eval("#control-kind sp-menu-item", (items) => items.map((i) => i.getAttribute("value")))).toEqual(["canny"]);

    await page.fill("#lora-weight input", "0.5");
    await page.click("#add-lora");
    expect(await page.textContent("#loras li span")).toBe("ink · 0.5");

    await page.dispatchEvent("body", "pointerenter");
    await expect.poll(() => page.$$eval("#control-layer sp-menu-item", (items) => items.map((i) => i.textContent))).toEqual(["From the source", "Kite sketch", "Brand board"]);
    await page.selectOption("#control-layer select", { label: "Kite sketch" });
    await page.fill("#control-strength input", "0.8");
    await page.fill("#control-end input", "70");
    await page.click("#add-control");
    await page.selectOption("#control-layer select", "source");
    await page.fill("#control-strength input", "0.5");
    await page.fill("#control-end input", "100");
    await page.click("#add-control");
    expect(await page.$$eval("#controls li span", (spans) => spans.map((s) => s.textContent))).toEqual([
      "canny · Kite sketch · 0.8 · steps 0-70%", "canny · from the source · 0.5",
    ]);

    // References: the brand board layer, and a PNG file from the UXP file picker carrying only its look.
    await page.selectOption("#reference-layer select", { label: "Brand board" });
    await page.fill("#reference-weight input", "0.7");
    await page.click("#add-reference-layer");
    await page.fill("#reference-weight input", "1");
    await page.selectOption("#reference-focus select", "style");
    await page.click("#add-reference-file");
    await expect.poll(() => page.$$eval("#references li span", (spans) => spans.map((s) => s.textContent))).toEqual([
      "Brand board (layer) · 0.7", "moodboard.png (file) · 1 · look only",
    ]);
    expect(await page.textContent("#reference-hint")).toBe("IP-Adapter: ip-sd15.");
    // The fields the style filled, marked, down to its LoRA chip.
    const from = (await page.locator("#negative").boundingBox())!.y - 24;
    const to = await page.locator("#lora-section").boundingBox();
    await page.screenshot({ path: join(images, "photoshop-panel-style.png"), clip: { x: 0, y: from, width: 340, height: to!.y + to!.height - from } });
    await page.locator("#reference-section").screenshot({ path: join(images, "photoshop-panel-references.png") });

    // Expand takes a margin per side (the screenshot for the guide); this job is a Fill.
    await page.selectOption("#mode select", "expand");
    for (const [side, value] of [["left", "0"], ["top", "32"], ["right", "128"], ["bottom", "0"]]) await page.fill(`#expand-${side} input`, value);
    await page.locator("#brief").screenshot({ path: join(images, "photoshop-panel-expand.png") });
    await page.selectOption("#mode select", "fill");

    await page.fill("#prompt textarea", "a red kite");
    await page.fill("#variants input", "2");
    await page.fill("#seed input", "7");
    await page.check("#seed-lock input");
    await page.screenshot({ path: join(images, "photoshop-panel-controls.png"), fullPage: true });

    await page.click("#generate");
    await expect.poll(() => page.textContent("#message"), { timeout: 120_000 }).toMatch(/^Placed 2 layers in one undo step\./);
    const doc = await testDocument(page);
    const recipe = doc.recipe!;
    expect(recipe.style).toBe("ink-wash");
    expect(recipe.engine).toBe("diffusers");
    expect(recipe.params.prompt).toBe("a red kite, ink wash");
    expect(recipe.params.steps).toBe(2);
    expect(recipe.params.negative_prompt).toBe("photo, blurry");
    const pinned = { image_sha256: expect.stringMatching(/^[0-9a-f]{64}$/), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) };
    expect(recipe.params.references).toMatchObject([{ weight: 0.7, focus: "all", model: "ip-sd15", ...pinned }, { weight: 1, focus: "style", model: "ip-sd15", ...pinned }]);
    expect(recipe.params.loras).toEqual([{ name: "ink", weight: 0.5, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(recipe.params.controls).toMatchObject([
      { kind: "canny", image: "sent", strength: 0.8, start: 0, end: 0.7, image_sha256: expect.stringMatching(/^[0-9a-f]{64}$/), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      { kind: "canny", image: "source", strength: 0.5, end: 1 },
    ]);
    // The sketch layer was read alone over exactly the job's region; the document only gained the placed group.
    const sketchId = doc.layers.find((l) => l.name === "Kite sketch")!.id;
    const { x, y, width, height } = recipe.region;
    expect(doc.getPixels.filter((c) => c.layerID === sketchId)).toEqual([
      { documentID: 12, layerID: sketchId, sourceBounds: { left: x, top: y, right: x + width, bottom: y + height }, colorSpace: "RGB", colorProfile: "sRGB IEC61966-2.1", componentSize: 8 },
    ]);
    // The brand board was read whole (no sourceBounds: Photoshop trims to its pixels); the file came from the picker, as binary.
    const boardId = doc.layers.find((l) => l.name === "Brand board")!.id;
    expect(doc.getPixels.filter((c) => c.layerID === boardId)).toEqual([
      { documentID: 12, layerID: boardId, colorSpace: "RGB", colorProfile: "sRGB IEC61966-2.1", componentSize: 8 },
    ]);
    expect(await page.evaluate(() => (window as unknown as { underpaintTest: { picker(): unknown } }).underpaintTest.picker())).toEqual([
      { fn: "localFileSystem.getFileForOpening", args: { types: ["png"], allowMultiple: false } },
      { fn: "File.read", args: { name: "moodboard.png", format: "binary" } },
    ]);
    expect(doc.history).toEqual(["Open", "Underpaint Fill: a red kite"]);
    expect(doc.layers.map((l) => [l.name, l.kind])).toEqual([["a red kite", "group"], ["Kite sketch", "pixel"], ["Brand board", "pixel"]]);
    expect(doc.layers[0].children.map((l) => l.visible)).toEqual([true, false]);

    // The placed layer is selected: the panel shows its recipe and offers Regenerate and Vary.
    await page.dispatchEvent("body", "pointerenter");
    await expect.poll(() => page.locator("#history li").count()).toBe(1);
    await page.waitForSelector("#layer-recipe:not([hidden])");
    expect(await page.textContent("#layer-recipe-text")).toBe("fill · diffusers sd15 · seed 7 · style ink-wash · LoRA ink 0.5 · 2 controls (canny, canny)");
    await page.screenshot({ path: join(images, "photoshop-panel-controls-done.png"), fullPage: true });

    // Vary: the same recipe (its resolved steps and LoRA) with a new seed, as a second group in its own undo step.
    await page.click('#layer-recipe-actions sp-action-button[data-reuse="vary"]');
    await expect.poll(async () => (await testDocument(page)).history.length, { timeout: 120_000 }).toBe(3);
    const varied = (await testDocument(page)).recipe!;
    expect(varied.seeds[0]).not.toBe(7);
    expect(varied.params).toMatchObject({ prompt: "a red kite, ink wash", steps: 2, loras: [{ name: "ink", weight: 0.5 }], references: [{ weight: 0.7 }, { weight: 1 }] });
    expect(varied.style ?? null).toBeNull();
    expect(await page.inputValue("#style select")).toBe("");
    expect(errors).toEqual([]);
    await page.close();

    // After a restart (a new panel, and Photoshop gives the document a new id) the jobs are still there by path.
    const again = await open(inject("agentWs"), "controls&doc=40");
    await again.page.dispatchEvent("body", "pointerenter");
    await expect.poll(() => again.page.locator("#history li").count()).toBe(2);
    await again.page.click('#history sp-action-button[data-reuse="fill"] >> nth=1');
    expect(await again.page.inputValue("#prompt textarea")).toBe("a red kite, ink wash");
    expect(await again.page.inputValue("#seed input")).toBe("7");
    expect(await again.page.textContent("#loras li span")).toBe("ink · 0.5");
    expect(again.errors).toEqual([]);
    await again.page.close();
    // Two tiny diffusion jobs: seconds on a quiet machine, minutes while other tests share the agent and the cores.
  }, 300_000);

  it("resumes a job after the panel was closed mid-job and places its result into the document it came from", async () => {
    const first = await open(inject("agentWs"), "controls");
    await pair(first.page);
    // A style of 24 steps: the engine sends a preview every 4th, and the job outlives the panel.
    await first.page.selectOption("#style select", "ink-study");
    await first.page.fill("#prompt textarea", "a kite at dusk");
    await first.page.fill("#variants input", "1");
    await first.page.click("#generate");
    type Running = { jobId: string; afterSeq: number; document: { id: number } }[];
    const running = (page: Page): Promise<Running> => page.evaluate(() => (window as unknown as { underpaintTest: { running(): Running } }).underpaintTest.running());
    await first.page.waitForSelector("#previews img[src^='data:image/png;base64,']", { timeout: 120_000 });
    await first.page.screenshot({ path: join(images, "photoshop-panel-preview.png") });
    // Closed while the job runs: nothing was placed yet.
    const [left] = await running(first.page);
    expect(left.afterSeq).toBeGreaterThanOrEqual(1);
    expect(left.document.id).toBe(12);
    await first.page.close();
    expect(first.errors).toEqual([]);

    // Reopened, with another document in front: the result still lands in kite.psd, in one undo step.
    const { page, errors } = await open(inject("agentWs"), "controls&second=1");
    await pair(page);
    await expect.poll(() => page.textContent("#message"), { timeout: 120_000 }).toBe("Placed 1 layer of the job that was running when the panel closed into kite.psd.");
    const doc = await testDocument(page);
    expect(doc.history).toEqual(["Open", "Underpaint Fill: a kite at dusk"]);
    expect(doc.layers[0]).toMatchObject({ name: "a kite at dusk", kind: "group" });
    expect(await page.evaluate(() => (window as unknown as { underpaintTest: { others(): unknown } }).underpaintTest.others())).toEqual([{ id: 13, history: ["Open"], layers: 0 }]);
    expect(await running(page)).toEqual([]);
    expect(doc.jobId).toBe(left.jobId);
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);

  it("offers only the chosen model's modes: no Edit on the classic engine or on sd15, which cannot do it", async () => {
    const { page, errors } = await open(inject("agentWs"));
    await pair(page);
    const modes = modeMenu(page);
    expect(await modes()).toEqual(["fill", "remove", "expand"]);
    expect(await page.isHidden("#guidance-row")).toBe(true);
    await page.selectOption("#engine select", "diffusers");
    await page.selectOption("#model select", "sd15");
    await expect.poll(modes).toEqual(["fill", "remove", "expand", "generate", "refine"]);
    expect(await page.textContent("#guidance-label")).toBe("Guidance (CFG)");
    await page.selectOption("#mode select", "refine");
    expect(await page.isVisible("#strength-row")).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("offers Edit for an instruction-edit model, asks for the change, and places the edit", async () => {
    const { page, errors } = await open(inject("agentWs"));
    await pair(page);
    await page.selectOption("#engine select", "diffusers");
    await page.selectOption("#model select", "tiny-kontext");
    await expect.poll(modeMenu(page)).toEqual(["refine", "edit"]);
    await page.selectOption("#mode select", "edit");
    expect(await page.textContent("#prompt-label")).toBe("Describe the change");
    expect(await page.textContent("#guidance-label")).toBe("Distilled guidance");
    expect(await page.isVisible("#strength-row")).toBe(true);
    await page.fill("#prompt textarea", "make the jacket red");
    await page.fill("#variants input", "1");
    await page.fill("#guidance input", "2.5");
    await page.locator("#brief").screenshot({ path: join(images, "photoshop-panel-edit.png") });

    await page.click("#generate");
    await expect.poll(() => page.textContent("#message"), { timeout: 120_000 }).toMatch(/^Placed 1 layer in one undo step\./);
    const doc = await testDocument(page);
    expect(doc.layers[doc.layers.length - 1]).toMatchObject({ name: "Edit: make the jacket red", kind: "group" });
    expect(doc.history[doc.history.length - 1]).toBe("Underpaint Edit: make the jacket red");
    expect(doc.recipe).toMatchObject({ mode: "edit", model: { name: "tiny-kontext" }, params: { prompt: "make the jacket red", guidance: 2.5, strength: 0.6 } });
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);

  it("says how to start the agent when it cannot be reached", async () => {
    const { page, errors } = await open("ws://127.0.0.1:9/v1/ws");
    await page.fill("#token input", "anything");
    await page.click("#connect");
    await expect.poll(() => page.textContent("#status")).toMatch(/Cannot reach the agent at ws:\/\/127\.0\.0\.1:9\/v1\/ws\. Start it .*make run/);
    expect(await page.getAttribute("#generate", "disabled")).toBe("");
    await page.screenshot({ path: join(images, "photoshop-panel-offline.png") });
    expect(errors).toEqual([]);
    await page.close();
  });
});

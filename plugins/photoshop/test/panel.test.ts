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

async function open(ws: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // file:// pages send `Origin: null`, which the agent accepts together with the token, like UXP's.
  await page.goto(`${panelUrl}?ws=${encodeURIComponent(ws)}`);
  return { page, errors };
}

interface LayerView {
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
    expect(await page.$$eval("#engine sp-menu-item", (items) => items.map((i) => i.getAttribute("value")))).toEqual(["classic"]);

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

    const doc = (await page.evaluate(() => (window as unknown as { underpaintTest: { document(): unknown } }).underpaintTest.document())) as {
      history: string[];
      layers: LayerView[];
      calls: string[];
    };
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

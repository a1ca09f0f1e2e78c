// Runs the built panel in headless Chromium inside a sandboxed iframe
// (sandbox="allow-scripts": its Origin is `null`, exactly as in Figma), wired
// by postMessage to the fake main thread running in Node.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type FrameLocator, type Page } from "playwright-core";
import type { FakeFigma } from "./fake-figma.js";

// Bytes cross the Node <-> page boundary as base64; in Figma they are structured-cloned.
type Wire = unknown;
function toWire(value: unknown): Wire {
  if (value instanceof Uint8Array) return { __bytes: Buffer.from(value).toString("base64") };
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  return value;
}
function fromWire(value: Wire): unknown {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (typeof record.__bytes === "string") return new Uint8Array(Buffer.from(record.__bytes, "base64"));
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fromWire(v)]));
  }
  return value;
}

// The page's half of the bridge; the same (de)coding in the browser.
const PAGE_SCRIPT = `
  const toWire = (v) => v instanceof Uint8Array ? { __bytes: btoa(Array.from(v, (b) => String.fromCharCode(b)).join("")) }
    : Array.isArray(v) ? v.map(toWire) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toWire(x)])) : v;
  const fromWire = (v) => Array.isArray(v) ? v.map(fromWire) : v && typeof v === "object"
    ? (typeof v.__bytes === "string" ? Uint8Array.from(atob(v.__bytes), (c) => c.charCodeAt(0)) : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromWire(x)]))) : v;
  window.addEventListener("message", (event) => {
    if (event.source === document.getElementById("plugin").contentWindow && event.data && "pluginMessage" in event.data) {
      window.toMain(toWire(event.data.pluginMessage));
    }
  });
  window.toUi = (m) => document.getElementById("plugin").contentWindow.postMessage({ pluginMessage: fromWire(m) }, "*");
`;

export interface Harness {
  context: BrowserContext;
  page: Page;
  panel: FrameLocator;
  close(): Promise<void>;
}

export async function openPanel(fake: FakeFigma, uiHtml: string, size: { width: number; height: number }): Promise<Harness> {
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "underpaint-chromium-")), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: size.width + 20, height: size.height + 20 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.exposeFunction("toMain", (message: Wire) => fake.fromUi(fromWire(message)));
  fake.onPost = (message) => void page.evaluate((m) => (window as unknown as { toUi(m: unknown): void }).toUi(m), toWire(message)).catch(() => undefined);
  await page.setContent(
    `<!doctype html><body style="margin:10px;background:#e5e5e5"><iframe id="plugin" sandbox="allow-scripts" style="border:0;width:${size.width}px;height:${size.height}px;background:#fff"></iframe><script>${PAGE_SCRIPT}</script></body>`,
  );
  await page.evaluate((html) => {
    (document.getElementById("plugin") as HTMLIFrameElement).srcdoc = html;
  }, uiHtml);
  return { context, page, panel: page.frameLocator("#plugin"), close: () => context.close() };
}

export function builtUi(): string {
  return readFileSync(new URL("../dist/ui.html", import.meta.url), "utf8");
}

/** Polls `condition` (state the fake main thread holds) until it holds. */
export async function until(condition: () => boolean, what: string, ms = 45_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The agent's page in headless Chromium (Debian's, driven by playwright-core) against a live agent of its
// own: sign-in, jobs from a plugin appearing and progressing live, cancel, picks kept across a restart,
// compare, re-run, download, and a page on another origin refused. The screenshots are docs/dashboard.md's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { createServer, type Server } from "node:http";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { AgentClient, type JobOutcome, type SubmitRequest } from "../../protocol/client/src/client.js";
import type { SocketLike } from "../../protocol/client/src/socket.js";
import { softEllipse, texturedRgba } from "../../protocol/client/test/images.js";
import { freePort, LiveAgent } from "./agent.js";
import type { GalleryJob, JobDetail, Pick } from "../src/types.js";

const images = join(import.meta.dirname, "../../docs/images");
let agent: LiveAgent;
let context: BrowserContext;
let page: Page;
let profile: string;
const errors: string[] = [];

beforeAll(async () => {
  agent = await LiveAgent.start();
  profile = mkdtempSync(join(tmpdir(), "underpaint-page-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    acceptDownloads: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1280, height: 820 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => errors.push(error.message));
  // Console errors too: a style or script the page's Content-Security-Policy refused shows only there. Failed
  // requests are left out: the test makes some on purpose (a wrong token, the agent restarting).
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) errors.push(message.text());
  });
  mkdirSync(images, { recursive: true });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await agent?.stop();
  rmSync(profile, { recursive: true, force: true });
  rmSync(agent.folder, { recursive: true, force: true });
});

function fill(jobId: string, width: number, height: number, variants: number, prompt: string, seed: number): SubmitRequest {
  return {
    jobId, mode: "fill", document: { width, height }, region: { x: 0, y: 0, width, height }, params: { variants, seed, prompt },
    image: { data: texturedRgba(width, height), width, height, format: "rgba8" },
    mask: { data: softEllipse(width, height, [width / 4, height / 4, width / 2, height / 2]), width, height, format: "gray8" },
  };
}

const tile = (jobId: string, variant: number) => `.tile[data-job="${jobId}"][data-variant="${variant}"]`;

describe("the agent's page in Chromium", () => {
  it("refuses a wrong token and signs in with the right one, kept in a cookie no script can read", async () => {
    await page.goto(`${agent.http}/`);
    await page.fill("#token", "not-the-token");
    await page.click("#sign-in");
    await expect.poll(() => page.textContent("#signin-error")).toMatch(/^Wrong pairing token/);
    await page.screenshot({ path: join(images, "dashboard-signin.png") });

    await page.fill("#token", agent.token);
    await page.click("#sign-in");
    await page.waitForSelector("#view-gallery .empty");
    const [cookie] = await context.cookies(agent.http);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/" });
    expect(cookie.value).not.toContain(agent.token);
    expect(await page.evaluate(() => document.cookie)).toBe("");
  });

  it("shows jobs a plugin submits appear in the queue and progress live, and cancels one", async () => {
    const socketFactory = (url: string) => new WebSocket(url) as unknown as SocketLike;
    const client = await AgentClient.connect({ url: agent.ws, token: agent.token, client: { name: "vitest-plugin", version: "1" }, socketFactory });
    await page.click('nav a[data-view="queue"]');
    const big = client.submit(fill("big-job", 640, 480, 3, "a lighthouse at dusk", 100));
    const small = client.submit(fill("small-job", 96, 96, 2, "a red kite", 7));
    const doomed = client.submit(fill("doomed-job", 96, 96, 1, "a blue boat", 3));
    await page.waitForSelector('.queue li[data-job="doomed-job"][data-state="queued"]');
    await expect.poll(async () => Number(await page.getAttribute('.queue li[data-job="big-job"] progress', "value")), { timeout: 20_000, interval: 50 }).toBeGreaterThan(0);
    expect(await page.textContent('.queue li[data-job="big-job"] .label')).toMatch(/^variant \d of 3 · step \d+ of \d+ · \d+ %$/);
    // Each finished variant's picture joins the running job's row, from the same event log the plugin gets.
    await page.waitForFunction(() => {
      const picture = document.querySelector<HTMLImageElement>('.queue li[data-job="big-job"] .pictures img');
      return picture !== null && picture.complete && picture.naturalWidth > 0;
    }, undefined, { timeout: 20_000 });
    await page.screenshot({ path: join(images, "dashboard-queue.png") });

    await page.click('.queue li[data-job="doomed-job"] button.cancel');
    expect((await doomed).state).toBe("cancelled");
    await page.waitForSelector('.queue li[data-job="doomed-job"]', { state: "detached" });
    const outcomes: JobOutcome[] = await Promise.all([big, small]);
    expect(outcomes.map((outcome) => outcome.state)).toEqual(["done", "done"]);
    client.close();
    await expect.poll(() => page.locator(".queue li").count()).toBe(0);
  });

  it("stars, rejects and picks variants from the keyboard, notes one, and finds them by filter after a restart", async () => {
    await page.click('nav a[data-view="gallery"]');
    await page.waitForSelector(`${tile("big-job", 2)} img`);
    expect(await page.locator('.card[data-job="doomed-job"] .ended').textContent()).toBe("Cancelled.");
    await page.keyboard.press("ArrowRight"); // the newest job's first variant: small-job
    await page.keyboard.press("s");
    await expect.poll(() => page.getAttribute(tile("small-job", 0), "class")).toContain("starred");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("x");
    await expect.poll(() => page.getAttribute(tile("small-job", 1), "data-verdict")).toBe("reject");
    await page.keyboard.press("j"); // a row down: the same variant of big-job
    await page.keyboard.press("p");
    await expect.poll(() => page.getAttribute(tile("big-job", 1), "data-verdict")).toBe("pick");
    await page.keyboard.press("Enter");
    await page.fill("#detail textarea[name=note]", "keep the warm sky");
    await page.click("#save-note");
    const expected: Pick[] = [{ variant: 1, starred: false, verdict: "pick", note: "keep the warm sky" }];
    await expect.poll(async () => (await agent.api<GalleryJob>("/jobs/big-job")).picks).toEqual(expected);
    await page.waitForFunction(() => [...document.querySelectorAll("img")].every((img) => img.complete && img.naturalWidth > 0));
    await page.screenshot({ path: join(images, "dashboard-gallery.png") });

    await agent.restart();
    await page.reload();
    await page.waitForSelector(`${tile("big-job", 1)}[data-verdict="pick"]`);
    await page.selectOption('select[name="keep"]', "starred");
    await expect.poll(() => page.locator(".card").evaluateAll((cards) => cards.map((card) => card.getAttribute("data-job")))).toEqual(["small-job"]);
    expect(await page.getAttribute(tile("small-job", 0), "class")).toContain("starred");
    await page.selectOption('select[name="keep"]', "rejected");
    await expect.poll(() => page.locator(".card").evaluateAll((cards) => cards.map((card) => card.getAttribute("data-job")))).toEqual(["small-job"]);
    expect(await page.getAttribute(tile("small-job", 1), "data-verdict")).toBe("reject");
    expect(page.url()).toContain("keep=rejected");
    await page.selectOption('select[name="keep"]', "");
    await expect.poll(() => page.locator(".card").count()).toBe(3);
  });

  it("compares two variants side by side with an A/B slider and their recipes' differences marked", async () => {
    await page.click(tile("big-job", 0), { modifiers: ["Shift"] });
    await page.click(tile("small-job", 1), { modifiers: ["Shift"] });
    expect(await page.getAttribute(tile("small-job", 1), "data-compare")).toBe("B");
    await page.click("#compare-open");
    await page.waitForSelector("#compare:not([hidden]) .side-by-side figure:nth-child(2) img");
    const differing = await page.$$eval("#compare tr.differs", (rows) => rows.map((row) => row.getAttribute("data-path")));
    expect(differing).toEqual(expect.arrayContaining(["params.prompt", "params.seed", "seed", "variant", "document.width"]));
    expect(differing).not.toContain("engine");
    await page.selectOption('select[name="ab-right"]', { label: "source of A" });
    await page.$eval("#ab-range", (range) => {
      (range as HTMLInputElement).value = "30";
      range.dispatchEvent(new Event("input", { bubbles: true }));
    });
    expect(await page.getAttribute(".ab-frame", "style")).toContain("--split: 30%");
    await page.waitForFunction(() => [...document.querySelectorAll("#compare img")].every((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0));
    await page.screenshot({ path: join(images, "dashboard-compare.png") });
    await page.keyboard.press("Escape");
    expect(await page.isHidden("#compare")).toBe(true);
  });

  it("re-runs a recipe with a new seed as a new job", async () => {
    await page.click(tile("small-job", 0));
    await page.keyboard.press("Enter");
    await page.waitForSelector('#detail:not([hidden]) #rerun input[name="seed"]');
    await expect.poll(() => page.inputValue('#rerun input[name="seed"]')).toBe("7");
    await page.click("#rerun button:has-text('New seed')");
    expect(await page.inputValue('#rerun input[name="seed"]')).toBe("9");
    await page.click("#rerun button[type=submit]");
    await expect.poll(() => page.textContent("#toast")).toMatch(/^Queued rerun-/);
    const rerunId = /Queued (rerun-[0-9a-f]+)/.exec((await page.textContent("#toast")) ?? "")![1];
    await page.waitForSelector(`${tile(rerunId, 1)} img`, { timeout: 30_000 });
    const rerun = await agent.api<JobDetail>(`/jobs/${rerunId}`);
    expect(rerun).toMatchObject({ state: "done", seeds: [9, 10], prompt: "a red kite", source: "dashboard" });
  });

  it("downloads a job's PSD", async () => {
    await page.click(tile("big-job", 0));
    await page.keyboard.press("Enter");
    await page.waitForSelector("#detail:not([hidden]) #download-psd");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-psd")]);
    expect(download.suggestedFilename()).toBe("big-job.psd");
    expect(readFileSync((await download.path())!).subarray(0, 4).toString("latin1")).toBe("8BPS");
    expect(errors).toEqual([]);
  });

  it("lets no page on another origin read or change anything, even with the cookie in the browser", async () => {
    const port = await freePort();
    const attack = `<!doctype html><script>
      (async () => {
        const agent = ${JSON.stringify(agent.http)};
        const outcome = {};
        const attempt = async (name, url, init) => { try { const r = await fetch(agent + url, { credentials: "include", ...init }); outcome[name] = r.type === "opaque" ? "sent blind" : r.status; } catch { outcome[name] = "blocked"; } };
        await attempt("read", "/dashboard/api/jobs");
        await attempt("json", "/dashboard/api/jobs/small-job/picks/0", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"starred": false}' });
        await attempt("simple", "/dashboard/api/jobs/small-job/picks/0", { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: '{"starred": false}' });
        document.title = JSON.stringify(outcome);
      })();
    </script>`;
    const server: Server = createServer((_, response) => response.writeHead(200, { "Content-Type": "text/html" }).end(attack));
    await new Promise<void>((done) => server.listen(port, "127.0.0.1", done));
    try {
      const other = await context.newPage();
      await other.goto(`http://127.0.0.1:${port}/`);
      await expect.poll(() => other.title()).not.toBe("");
      expect(JSON.parse(await other.title())).toEqual({ read: "blocked", json: "blocked", simple: "sent blind" });
      await other.close();
    } finally {
      server.close();
    }
    expect((await agent.api<GalleryJob>("/jobs/small-job")).picks[0]).toMatchObject({ variant: 0, starred: true });
  });
});

// The built panel in headless Chromium, in a sandboxed iframe like Figma's,
// against the live agent: pair, fill two frames, see progress, get two PNG
// variants back into the fake main thread. Screenshots go to docs/images/.
import { mkdirSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { build } from "../build.mjs";
import { maskFor } from "../src/core/pixels.js";
import { decodePng } from "../src/core/png.js";
import { decodeRecipe } from "../src/core/recipe.js";
import { AGENT_URL_KEY, startPlugin, TOKEN_KEY, UI_SIZE } from "../src/main/plugin.js";
import { createFakeFigma, install, render, type FakeFigma } from "./fake-figma.js";
import { builtUi, openPanel, until, type Harness } from "./harness.js";

const images = new URL("../../../docs/images/", import.meta.url);
const shot = (name: string): string => new URL(name, images).pathname;

let ui = "";
let harness: Harness | null = null;

beforeAll(async () => {
  await build({ minify: false });
  ui = builtUi();
  mkdirSync(images, { recursive: true });
});
afterEach(async () => {
  await harness?.close();
  harness = null;
});
afterAll(async () => harness?.close());

function figmaWith(agentUrl: string): FakeFigma {
  const fake = createFakeFigma();
  install(fake, ui);
  fake.storage.set(AGENT_URL_KEY, agentUrl);
  return fake;
}

describe("the panel in Chromium", () => {
  it("pairs, fills two frames with progress, and gets two PNG variants into the main thread", async () => {
    const fake = figmaWith(inject("agentWs"));
    const hero = fake.frame("Hero", { x: 0, y: 0, width: 240, height: 160 }, { r: 0.9, g: 0.6, b: 0.3 });
    const card = fake.frame("Card", { x: 300, y: 0, width: 160, height: 160 }, { r: 0.3, g: 0.6, b: 0.9 });
    const before = new Map([hero, card].map((f) => [f.id, render(f.fills, f.width, f.height)]));
    fake.select(hero, card, fake.text("sunlit wooden bench"));
    startPlugin();
    harness = await openPanel(fake, ui, UI_SIZE);
    const { panel } = harness;

    await expect.poll(() => panel.locator("#status-detail").textContent()).toContain("Paste the pairing token");
    await panel.locator("#token").fill("not-the-token");
    await panel.locator("#pair-button").click();
    await expect.poll(() => panel.locator("#status-text").textContent()).toBe("Token refused.");
    await harness.page.locator("#plugin").screenshot({ path: shot("figma-panel-token-refused.png") });

    await panel.locator("#token").fill(inject("agentToken"));
    await panel.locator("#pair-button").click();
    await expect.poll(() => panel.locator("#status").getAttribute("data-state")).toBe("connected");
    expect(fake.storage.get(TOKEN_KEY)).toBe(inject("agentToken"));
    // The classic engine can neither generate nor edit: the menu lists only what it can do, and it has no guidance to set.
    expect(await panel.locator("#mode option").evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value))).toEqual(["fill", "remove"]);
    expect(await panel.locator("#mode").inputValue()).toBe("fill");
    expect(await panel.locator("#guidance-field").isHidden()).toBe(true);
    expect(await panel.locator("#mode-note").textContent()).toContain("ignores prompts");
    expect(await panel.locator("#selection").textContent()).toContain("sunlit wooden bench");
    await harness.page.locator("#plugin").screenshot({ path: shot("figma-panel-connected.png") });

    await panel.locator("#seed-lock").check();
    await panel.locator("#seed").fill("42");
    await panel.locator("#fill").click();
    await until(() => [hero, card].every((f) => f.fills[0]?.type === "IMAGE"), "both frames to get their image");
    await expect.poll(() => panel.locator('#jobs li[data-state="done"]').count(), { timeout: 30_000 }).toBe(2);
    await until(() => [hero, card].every((f) => decodeRecipe(f.getPluginData("recipe"))?.recipe?.underpaint), "the agent's recipes");
    const progress = await panel.locator("#jobs li").evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset.maxProgress)));
    expect(progress.every((p) => p > 0)).toBe(true);
    await harness.page.locator("#plugin").screenshot({ path: shot("figma-panel-jobs.png") });

    for (const [frame, seed] of [[hero, 42], [card, 43]] as const) {
      const png = fake.images.get(frame.fills[0].imageHash!)!;
      const { width, height, data } = decodePng(png);
      expect([width, height]).toEqual([frame.width, frame.height]);
      // Outside the (grown, feathered) selection the frame's pixels come back byte for byte.
      const source = before.get(frame.id)!;
      const row = width * 4;
      expect(Buffer.from(data.subarray(0, 10 * row)).equals(Buffer.from(source.subarray(0, 10 * row)))).toBe(true);
      expect(Buffer.from(data.subarray(-10 * row)).equals(Buffer.from(source.subarray(-10 * row)))).toBe(true);
      const centre = ((height >> 1) * width + (width >> 1)) * 4;
      expect(maskFor("centre", width, height)[centre / 4]).toBe(255);
      const record = decodeRecipe(frame.getPluginData("recipe"))!;
      expect(record).toMatchObject({ seed, mask: "centre", recipe: { engine: "classic", mode: "fill", seeds: [seed] } });
      expect(record.recipe!.params.prompt).toBe("sunlit wooden bench");
      expect(frame.getRelaunchData().regenerate).toContain(`seed ${seed}`);
    }
    expect(fake.undoCommits).toBe(2);
    expect(fake.notices.filter((n) => n.error)).toEqual([]);
  });

  it("makes variants beside a frame, and Cancel removes the copies still waiting", async () => {
    const fake = figmaWith(inject("agentWs"));
    fake.storage.set(TOKEN_KEY, inject("agentToken"));
    // Large enough, and enough variants, that the job is still running when Cancel arrives: the classic
    // engine fills this frame in about 0.5 s a variant on 2 cores.
    const source = fake.frame("Tile", { x: 0, y: 0, width: 800, height: 480 }, { r: 0.4, g: 0.7, b: 0.5 });
    const neighbour = fake.frame("Note", { x: 860, y: 30, width: 80, height: 60 });
    fake.select(source);
    startPlugin();
    harness = await openPanel(fake, ui, UI_SIZE);
    const { panel } = harness;
    await expect.poll(() => panel.locator("#status").getAttribute("data-state")).toBe("connected");
    await panel.locator("#variants").fill("16");
    await panel.locator("#variants-button").click();
    const copies = () => fake.page.children.filter((n) => n.name.startsWith("Tile ·"));
    await until(() => copies().some((c) => c.fills[0]?.type === "IMAGE"), "the first variant");
    await harness.page.locator("#plugin").screenshot({ path: shot("figma-panel-progress.png") });
    await panel.locator("#jobs li .cancel").click();
    await expect.poll(() => panel.locator("#jobs li").getAttribute("data-state"), { timeout: 30_000 }).toBe("cancelled");
    await until(() => copies().every((c) => c.fills[0]?.type === "IMAGE"), "waiting copies to be removed");
    const kept = copies();
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(16);
    expect(kept.every((c) => /^Tile · seed \d+$/.test(c.name))).toBe(true);
    const boxes = [source, neighbour, ...kept];
    for (const [i, p] of boxes.entries()) {
      for (const q of boxes.slice(i + 1)) expect(p.x < q.x + q.width && q.x < p.x + p.width && p.y < q.y + q.height && q.y < p.y + p.height).toBe(false);
    }
  });

  it("explains an agent it cannot reach", async () => {
    const fake = figmaWith("ws://127.0.0.1:9/v1/ws");
    fake.storage.set(TOKEN_KEY, "some-token");
    startPlugin();
    harness = await openPanel(fake, ui, UI_SIZE);
    const { panel } = harness;
    await expect.poll(() => panel.locator("#status-detail").textContent(), { timeout: 20_000 }).toContain("Cannot reach the agent at ws://127.0.0.1:9");
    const detail = await panel.locator("#status-detail").textContent();
    expect(detail).toContain("make run");
    expect(await panel.locator("#fill").isDisabled()).toBe(true);
    await harness.page.locator("#plugin").screenshot({ path: shot("figma-panel-unreachable.png") });
  });
});

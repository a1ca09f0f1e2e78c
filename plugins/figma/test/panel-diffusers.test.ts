// The built panel in headless Chromium against the live agent's diffusers
// engine (tiny SD 1.5 `sd15`, canny ControlNet `canny`, LoRA `ink`, style
// `ink-wash`, IP-Adapter `ip-sd15`): pick a brand board as the reference, the
// style (which fills its fields) and the LoRA, keep the frames' edges, fill
// three frames of different sizes as one set, then give the whole set a new
// seed; expand a frame. Screenshots go to docs/images/.
import { mkdirSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { build } from "../build.mjs";
import { decodePng } from "../src/core/png.js";
import { decodeRecipe, type NodeRecipe } from "../src/core/recipe.js";
import { AGENT_URL_KEY, startPlugin, TOKEN_KEY, UI_SIZE } from "../src/main/plugin.js";
import { createFakeFigma, install, render, type FakeFigma, type FakeNode } from "./fake-figma.js";
import { builtUi, openPanel, until, type Harness } from "./harness.js";

const images = new URL("../../../docs/images/", import.meta.url);
const shot = (name: string): string => new URL(name, images).pathname;
let harness: Harness | null = null;

beforeAll(async () => {
  await build({ minify: false });
  mkdirSync(images, { recursive: true });
});
afterEach(async () => {
  await harness?.close();
  harness = null;
});

function paired(): FakeFigma {
  const fake = createFakeFigma();
  install(fake, builtUi());
  fake.storage.set(AGENT_URL_KEY, inject("agentWs"));
  fake.storage.set(TOKEN_KEY, inject("agentToken"));
  return fake;
}

const records = (frames: FakeNode[]): (NodeRecipe | null)[] => frames.map((f) => decodeRecipe(f.getPluginData("recipe")));

describe("a consistent set in Chromium on the diffusers engine", () => {
  it("fills three frames with one reference, style, LoRA and canny control as one set, then regenerates the set with a new seed", async () => {
    const fake = paired();
    const frames = [
      fake.frame("Banner", { x: 0, y: 0, width: 128, height: 64 }, { r: 0.9, g: 0.4, b: 0.2 }),
      fake.frame("Square", { x: 160, y: 0, width: 64, height: 64 }, { r: 0.2, g: 0.7, b: 0.4 }),
      fake.frame("Story", { x: 260, y: 0, width: 64, height: 112 }, { r: 0.3, g: 0.3, b: 0.9 }),
    ];
    const board = fake.frame("Brand board", { x: 0, y: 200, width: 96, height: 64 }, { r: 0.95, g: 0.7, b: 0.1 });
    fake.select(board);
    startPlugin();
    harness = await openPanel(fake, builtUi(), UI_SIZE);
    const { panel } = harness;
    await expect.poll(() => panel.locator("#status").getAttribute("data-state")).toBe("connected");

    // Picking the style picks the model it runs on, and fills and marks the fields it sets; the model's LoRAs, ControlNet and IP-Adapter appear.
    await panel.locator("#style").selectOption("ink-wash");
    expect([await panel.locator("#engine").inputValue(), await panel.locator("#model").inputValue()]).toEqual(["diffusers", "sd15"]);
    expect(await panel.locator("#negative").inputValue()).toBe("photo, blurry");
    const chip = panel.locator('.chip[data-lora="ink"]');
    expect([await chip.locator("input[type=checkbox]").isChecked(), await chip.locator("input[type=number]").inputValue()]).toEqual([true, "0.8"]);
    expect(await panel.locator(".from-style").evaluateAll((marked) => marked.map((m) => m.id))).toEqual(["engine", "model", "loras", "negative"]);
    expect(await panel.locator("#style-note").textContent()).toBe("Sets prompt “{prompt}, ink wash”, negative prompt “photo, blurry”, model sd15, LoRA ink 0.8, steps 2. Marked fields came from the style.");
    await chip.locator("input[type=number]").fill("0.7");

    // The brand board, selected on the canvas, becomes the reference of the whole set, carrying only its look.
    await panel.locator("#pick-reference").click();
    const reference = panel.locator(`#references .chip[data-node="${board.id}"]`);
    await expect.poll(() => reference.locator("span").textContent()).toBe("Brand board");
    await reference.locator("input").fill("0.9");
    await reference.locator("select").selectOption("style");
    fake.select(...frames, fake.text("a red kite over the dunes"));
    fake.fireSelectionChange();
    await panel.locator("#edges").check();
    await panel.locator("#seed-lock").check();
    await panel.locator("#seed").fill("2027");
    await harness.page.locator("#plugin").screenshot({ path: shot("figma-panel-style-loras.png") });
    await panel.locator("#brief").screenshot({ path: shot("figma-panel-references.png") });

    await panel.locator("#set-button").click();
    await until(() => records(frames).every((r) => r?.recipe?.underpaint), "the set's recipes from the agent", 150_000);
    const first = records(frames).map((r) => r!);
    expect(new Set(first.map((r) => r.setId)).size).toBe(1);
    for (const [i, record] of first.entries()) {
      const { recipe } = record;
      expect(recipe).toMatchObject({ engine: "diffusers", model: { name: "sd15" }, mode: "fill", style: "ink-wash", set_id: record.setId, seeds: [2027] });
      expect(recipe!.params.loras).toEqual([expect.objectContaining({ name: "ink", weight: 0.7 })]);
      expect(recipe!.params.controls).toEqual([expect.objectContaining({ kind: "canny", image: "source", model: "canny" })]);
      expect(recipe!.params.negative_prompt).toBe("photo, blurry");
      expect(recipe!.params.references).toEqual([expect.objectContaining({ weight: 0.9, focus: "style", model: "ip-sd15" })]);
      expect(recipe!.params.references![0].image_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(record.references).toEqual([board.id]);
      const { width, height } = decodePng(fake.images.get(frames[i].fills[0].imageHash!)!);
      expect([width, height]).toEqual([frames[i].width, frames[i].height]);
    }
    await expect.poll(() => panel.locator('#jobs li[data-state="done"]').count()).toBe(3);
    await harness.page.locator("#plugin").screenshot({ path: shot("figma-panel-set.png") });

    fake.select(frames[2]);
    await panel.locator("#reseed-set").click();
    await until(() => records(frames).every((r) => r?.recipe?.underpaint && r.setId !== first[0].setId), "the reseeded set", 150_000);
    const again = records(frames).map((r) => r!);
    expect(new Set(again.map((r) => `${r.setId} ${r.seed}`)).size).toBe(1);
    expect(again[0].seed).not.toBe(2027);
    // The rerun sends the first recipe's resolved fields (not the style's name), so it holds even if the style changed since.
    for (const [i, record] of again.entries()) {
      expect(record.recipe).toMatchObject({ set_id: record.setId, params: { prompt: first[i].recipe!.params.prompt, steps: 2 } });
      expect(record.recipe!.params.loras).toEqual([expect.objectContaining({ name: "ink", weight: 0.7 })]);
      // The board was exported again and its bytes resent: the same image as the first time.
      expect(record.recipe!.params.references).toEqual([expect.objectContaining({ weight: 0.9, focus: "style", image_sha256: first[i].recipe!.params.references![0].image_sha256 })]);
    }
    expect(board.exports).toHaveLength(2);
    expect(first[0].recipe!.params.prompt).toBe("a red kite over the dunes, ink wash");
    expect(fake.notices.filter((n) => n.error)).toEqual([]);
    // Two sets of three tiny jobs: well under a minute on a quiet machine, more while others share the cores.
  }, 330_000);

  it("lists only the chosen model's modes: sd15 refines but has no Edit; Kontext edits a frame by instruction", async () => {
    const fake = paired();
    const hero = fake.frame("Hero", { x: 0, y: 0, width: 64, height: 64 }, { r: 0.5, g: 0.5, b: 0.5 });
    fake.select(hero);
    startPlugin();
    harness = await openPanel(fake, builtUi(), UI_SIZE);
    const { panel } = harness;
    await expect.poll(() => panel.locator("#status").getAttribute("data-state")).toBe("connected");
    await panel.locator("#engine").selectOption("diffusers");
    await panel.locator("#model").selectOption("sd15");
    const modes = (): Promise<string[]> => panel.locator("#mode option").evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
    expect(await modes()).toEqual(["generate", "refine", "fill", "remove"]);
    expect(await panel.locator("#guidance-label").textContent()).toBe("Guidance (CFG)");
    await panel.locator("#mode").selectOption("refine");
    expect(await panel.locator("#strength-field").isVisible()).toBe(true);
    expect(await panel.locator("#prompt-label").textContent()).toBe("Prompt");

    await panel.locator("#model").selectOption("tiny-kontext");
    expect(await modes()).toEqual(["refine", "edit"]);
    await panel.locator("#mode").selectOption("edit");
    expect(await panel.locator("#prompt-label").textContent()).toBe("Describe the change");
    expect(await panel.locator("#guidance-label").textContent()).toBe("Distilled guidance");
    expect(await panel.locator("#mode-note").textContent()).toMatch(/^Describe the change to make/);
    await panel.locator("#prompt").fill("make the jacket red");
    expect(await panel.locator("#mode-note").textContent()).toBe("");
    await panel.locator("#variants").fill("1");
    await harness.page.locator("#plugin").screenshot({ path: shot("figma-panel-edit.png") });
    await panel.locator("#fill").click();
    await until(() => Boolean(decodeRecipe(hero.getPluginData("recipe"))?.recipe?.underpaint), "the agent's recipe of the edit", 60_000);
    expect(decodeRecipe(hero.getPluginData("recipe"))!.recipe).toMatchObject({ mode: "edit", model: { name: "tiny-kontext" }, params: { prompt: "make the jacket red", strength: 0.6 } });
  });

  it("expands a frame on chosen sides and fills the new area from its pixels", async () => {
    const fake = paired();
    const frame = fake.frame("Poster", { x: 40, y: 40, width: 64, height: 64 }, { r: 0.8, g: 0.5, b: 0.3 });
    const before = render(frame.fills, 64, 64);
    fake.select(frame);
    startPlugin();
    harness = await openPanel(fake, builtUi(), UI_SIZE);
    const { panel } = harness;
    await expect.poll(() => panel.locator("#status").getAttribute("data-state")).toBe("connected");
    // The style runs the tiny model at 2 steps.
    await panel.locator("#style").selectOption("ink-wash");
    await panel.locator("#expand summary").click();
    await panel.locator("#expand-right").fill("32");
    await panel.locator("#expand-bottom").fill("16");
    await panel.locator("#expand-button").click();
    await until(() => decodeRecipe(frame.getPluginData("recipe"))?.recipe?.underpaint !== undefined, "the expanded frame's recipe", 60_000);
    expect([frame.x, frame.y, frame.width, frame.height]).toEqual([40, 40, 96, 80]);
    const { width, height, data } = decodePng(fake.images.get(frame.fills[0].imageHash!)!);
    expect([width, height]).toEqual([96, 80]);
    // The frame's own middle is outside what Expand fills: its pixels come back byte for byte.
    for (const y of [24, 32, 40]) {
      expect(Buffer.from(data.subarray((y * 96 + 16) * 4, (y * 96 + 48) * 4)).equals(Buffer.from(before.subarray((y * 64 + 16) * 4, (y * 64 + 48) * 4)))).toBe(true);
    }
    expect(decodeRecipe(frame.getPluginData("recipe"))!.recipe).toMatchObject({ engine: "diffusers", mode: "expand", style: "ink-wash", params: { steps: 2, expand: { right: 32, bottom: 16 } } });
    expect(fake.undoCommits).toBe(1);
    await harness.page.locator("#plugin").screenshot({ path: shot("figma-panel-expand.png") });
  });
});

// Each document's jobs in plugin storage (history.ts) and the line that
// describes a recipe (panel-history.ts): kept by path across sessions.
import { describe, expect, it } from "vitest";
import { JobHistory, storageKey, type HistoryEntry, type HistoryStorage } from "../src/history.js";
import { describeRecipe } from "../src/panel-history.js";
import type { Recipe } from "../src/protocol.js";

/** localStorage as UXP gives it: strings by key, kept between sessions. */
function storage(): HistoryStorage & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return { items, getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v) };
}

const recipe = { engine: "diffusers", model: { name: "sd15" }, mode: "fill", params: { seed: 7 }, seeds: [7, 8] } as Recipe;
const entry = (jobId: string, layerIds: number[] = []): HistoryEntry => ({ jobId, label: jobId, layers: 2, recipe, layerIds });
const saved = { id: 3, path: "/Users/ana/kite.psd" };

describe("job history", () => {
  it("keeps a saved document's jobs by its path, so a new session with a new document id finds them", () => {
    const store = storage();
    new JobHistory(store).add(saved, entry("a"));
    expect(new JobHistory(store).list({ id: 99, path: saved.path }).map((e) => e.jobId)).toEqual(["a"]);
    expect([...store.items.keys()]).toEqual(["underpaint.history:path:/Users/ana/kite.psd"]);
  });
  it("keys a document never saved by its id", () => {
    expect(storageKey({ id: 5, path: "" })).toBe("underpaint.history:id:5");
  });
  it("lists newest first, each job once, at most `keep`", () => {
    const history = new JobHistory(storage(), 2);
    for (const id of ["a", "b", "a", "c"]) history.add(saved, entry(id));
    expect(history.list(saved).map((e) => e.jobId)).toEqual(["c", "a"]);
    expect(history.list(null)).toEqual([]);
  });
  it("finds the job that placed a selected layer or its group", () => {
    const history = new JobHistory(storage());
    history.add(saved, entry("a", [10, 11, 12]));
    history.add(saved, entry("b", [20, 21]));
    expect(history.findByLayer(saved, [21, 20])?.jobId).toBe("b");
    expect(history.findByLayer(saved, [11])?.jobId).toBe("a");
    expect(history.findByLayer(saved, [5])).toBeUndefined();
  });
  it("reads damaged storage as no jobs rather than failing", () => {
    const store = storage();
    store.setItem(storageKey(saved), "{not json");
    expect(new JobHistory(store).list(saved)).toEqual([]);
    store.setItem(storageKey(saved), JSON.stringify([{ jobId: "x" }, entry("ok")]));
    expect(new JobHistory(store).list(saved).map((e) => e.jobId)).toEqual(["ok"]);
  });
});

describe("recipe line", () => {
  it("says mode, engine and model, seed, style, LoRAs and controls", () => {
    const full = {
      ...recipe, style: "ink-wash",
      params: { loras: [{ name: "ink", weight: 0.5 }], controls: [{ kind: "canny" }, { kind: "scribble" }] },
    } as Recipe;
    expect(describeRecipe(full)).toBe("fill · diffusers sd15 · seed 7 · style ink-wash · LoRA ink 0.5 · 2 controls (canny, scribble)");
    expect(describeRecipe({ ...recipe, engine: "classic", model: null })).toBe("fill · classic · seed 7");
  });
});

// The panel's "This document's jobs" list and the recipe of the selected
// Underpaint layer, with Use again / Regenerate / Vary. The entries come from
// JobHistory (kept in plugin storage), so both work after Photoshop restarts.

import type { Recipe } from "./protocol.js";
import type { HistoryEntry, JobHistory } from "./history.js";
import type { Host } from "./host.js";
import { byId } from "./widgets.js";

/** Use again fills the fields; Regenerate runs the recipe as it is; Vary runs it with a new seed. */
export type Reuse = "fill" | "regenerate" | "vary";

export interface HistoryPanelOptions {
  root: Document;
  host: Host;
  history: JobHistory;
  reuse(recipe: Recipe, how: Reuse): void;
}

/** One line saying what made a result: mode, engine and model, seed, style, LoRAs, controls. */
export function describeRecipe(recipe: Recipe): string {
  const p = recipe.params;
  const parts = [recipe.mode, recipe.model?.name ? `${recipe.engine} ${recipe.model.name}` : recipe.engine, `seed ${recipe.seeds[0] ?? p.seed ?? 0}`];
  if (recipe.style) parts.push(`style ${recipe.style}`);
  for (const lora of p.loras ?? []) parts.push(`LoRA ${lora.name} ${lora.weight ?? 1}`);
  const controls = p.controls ?? [];
  if (controls.length) parts.push(`${controls.length} control${controls.length === 1 ? "" : "s"} (${controls.map((c) => c.kind).join(", ")})`);
  return parts.join(" · ");
}

export function bindHistory(options: HistoryPanelOptions): { render(): Promise<void> } {
  const { root, host, history } = options;
  const el = (id: string) => byId(root, id);

  function button(text: string, entry: HistoryEntry, how: Reuse): HTMLElement {
    const b = root.createElement("sp-action-button");
    b.textContent = text;
    b.dataset.job = entry.jobId;
    b.dataset.reuse = how;
    b.addEventListener("click", () => options.reuse(entry.recipe, how));
    return b;
  }

  async function render(): Promise<void> {
    const doc = await host.activeDocument();
    el("history").replaceChildren(
      ...history.list(doc).map((entry) => {
        const item = root.createElement("li");
        const label = root.createElement("span");
        label.textContent = `${entry.label} · seed ${entry.recipe.seeds[0]} · ${entry.layers} layer${entry.layers === 1 ? "" : "s"}`;
        item.append(label, button("Use again", entry, "fill"));
        return item;
      }),
    );
    const selected = doc ? history.findByLayer(doc, await host.selectedLayerIds(doc.id)) : undefined;
    el("layer-recipe").hidden = !selected;
    el("layer-recipe-text").textContent = selected ? describeRecipe(selected.recipe) : "";
    el("layer-recipe-actions").replaceChildren(...(selected ? [button("Regenerate", selected, "regenerate"), button("Vary", selected, "vary")] : []));
  }

  return { render };
}

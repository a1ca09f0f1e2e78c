// Recipes kept on nodes: the full recipe as JSON in plugin data, so a result can
// be regenerated or varied months later, and a one-line summary for the
// relaunch buttons' description.
import type { Recipe } from "./protocol.js";

/** Figma's limit for one plugin-data entry (setPluginData throws beyond it). */
export const PLUGIN_DATA_LIMIT = 100_000;
/** Relaunch descriptions are one line in the properties panel. */
const SUMMARY_LIMIT = 80;

/** Where the mask of a job came from: it is not in the recipe, so it is kept beside it. */
export type MaskKind = "centre" | "full" | "none";

export interface NodeRecipe {
  v: 1;
  /** The agent's job: its files and full history stay downloadable by this id. */
  jobId: string;
  variant: number;
  seed: number;
  mask: MaskKind;
  /** The set the node was filled in: Regenerate set finds its other frames by it. */
  setId?: string;
  /** The nodes the job's reference images were exported from, in order: a relaunch exports them again. */
  references?: string[];
  /** Null only when the recipe alone would break the plugin-data limit. */
  recipe: Recipe | null;
}

/** Bytes of `text` in UTF-8, counted by hand: Figma's main thread has no TextEncoder. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00 && i + 1 < text.length) {
      bytes += 4; // a surrogate pair is one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * JSON for plugin data, always under `limit`. Prompts are capped at 4000
 * characters so a real recipe fits easily; should one not, the record keeps the
 * job id and seed, which still find the recipe in the agent's history.
 */
export function encodeRecipe(record: NodeRecipe, limit = PLUGIN_DATA_LIMIT): string {
  const text = JSON.stringify(record);
  if (utf8Length(text) < limit) return text;
  return JSON.stringify({ ...record, recipe: null });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The record in `text`, or null for empty, foreign or damaged data. */
export function decodeRecipe(text: string): NodeRecipe | null {
  if (!text) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(value) || value.v !== 1) return null;
  const { jobId, variant, seed, mask, recipe, setId } = value;
  if (typeof jobId !== "string" || !Number.isInteger(variant) || !Number.isInteger(seed)) return null;
  if (setId !== undefined && typeof setId !== "string") return null;
  if (value.references !== undefined && !(Array.isArray(value.references) && value.references.every((r) => typeof r === "string"))) return null;
  if (mask !== "centre" && mask !== "full" && mask !== "none") return null;
  if (recipe !== null && !(isObject(recipe) && typeof recipe.mode === "string" && isObject(recipe.params) && isObject(recipe.region))) return null;
  return value as unknown as NodeRecipe;
}

/** "classic · fill · seed 42 · a wooden bench…" for the relaunch description. */
export function summarize(record: NodeRecipe): string {
  const parts = [record.recipe?.engine ?? "underpaint", record.recipe?.mode ?? "recipe", `seed ${record.seed}`];
  const prompt = record.recipe?.params.prompt?.trim();
  if (prompt) parts.push(prompt);
  const line = parts.join(" · ");
  return line.length <= SUMMARY_LIMIT ? line : `${line.slice(0, SUMMARY_LIMIT - 1)}…`;
}

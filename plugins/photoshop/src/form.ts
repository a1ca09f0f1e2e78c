// The panel's fields as a job request, and a recipe back into fields
// ("use this recipe again"). Pure: the panel reads strings, this checks them.

import { offeredModes, type Limits, type Mode, type ModelAbilities, type Recipe } from "./protocol.js";
import type { LoraChip } from "./conditioning.js";
import type { JobRequest } from "./job.js";
import { MODE_LABELS, MODES } from "./modes.js";

export interface FormValues {
  mode: string;
  prompt: string;
  negativePrompt: string;
  engine: string;
  model: string;
  variants: string;
  seed: string;
  seedLocked: boolean;
  /** 0-100, as the slider shows it. */
  strength: string;
  /** "" leaves it to the model (or a style); ignored where the model has no guidance. */
  guidance?: string;
  expandLeft: string;
  expandTop: string;
  expandRight: string;
  expandBottom: string;
  /** The style picker; "" for none. */
  style?: string;
}

const SIDES = ["Left", "Top", "Right", "Bottom"] as const;

export const MAX_SEED = 2 ** 32 - 1;

export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * (MAX_SEED + 1));
}

function wholeNumber(text: string): number | null {
  const value = Number(text.trim());
  return text.trim() !== "" && Number.isInteger(value) ? value : null;
}

/**
 * A request, or the sentence saying which field to fix. `model` is what the chosen model can do: a mode it
 * cannot do never goes out, nor a guidance it has no use for.
 */
export function requestFromForm(values: FormValues, limits: Pick<Limits, "max_variants">, model?: ModelAbilities): JobRequest | { error: string } {
  if (!MODES.includes(values.mode as Mode)) return { error: `Unknown mode '${values.mode}'.` };
  const mode = values.mode as Mode;
  if (model && !model.modes.includes(mode)) {
    return { error: `The chosen model cannot do ${MODE_LABELS[mode]}; it does ${offeredModes(MODES, model).map((m) => MODE_LABELS[m]).join(", ")}.` };
  }
  if (mode === "edit" && !values.prompt.trim()) return { error: "Describe the change to make (for example: make the jacket red)." };
  const guidanceText = (values.guidance ?? "").trim();
  const guidance = guidanceText === "" || model?.guidance === "none" ? undefined : Number(guidanceText);
  if (guidance !== undefined && !(Number.isFinite(guidance) && guidance >= 0 && guidance <= 30)) return { error: "Guidance must be a number from 0 to 30." };
  const maxVariants = Math.min(16, limits.max_variants);
  const variants = wholeNumber(values.variants);
  if (variants === null || variants < 1 || variants > maxVariants) return { error: `Variants must be a whole number from 1 to ${maxVariants}.` };
  const seed = wholeNumber(values.seed);
  if (seed === null || seed < 0 || seed > MAX_SEED) return { error: `The seed must be a whole number from 0 to ${MAX_SEED}.` };
  const strength = Number(values.strength);
  if (!Number.isFinite(strength) || strength < 0 || strength > 100) return { error: "Strength must be between 0 and 100." };
  const margins = SIDES.map((side) => wholeNumber(values[`expand${side}`]));
  if (mode === "expand") {
    if (margins.some((m) => m === null || m < 0 || m > 4096)) return { error: "Each Expand margin must be a whole number of pixels from 0 to 4096." };
    if (margins.every((m) => m === 0)) return { error: "Expand needs a margin above 0 on at least one side." };
  }
  const [left, top, right, bottom] = margins.map((m) => (mode === "expand" ? (m ?? 0) : 0));
  if (values.prompt.length > 4000 || values.negativePrompt.length > 4000) return { error: "Prompts are limited to 4000 characters." };
  return {
    mode, prompt: values.prompt, negativePrompt: values.negativePrompt, variants, seed,
    strength: Math.round(strength) / 100, engine: values.engine || undefined, model: values.model || undefined,
    expand: { left, top, right, bottom }, ...(guidance !== undefined && { guidance }),
  };
}

/** The fields a recipe sets; the seed is locked so the same look comes back. */
export function formFromRecipe(recipe: Recipe): Partial<FormValues> {
  const p = recipe.params;
  const values: Partial<FormValues> = {
    mode: recipe.mode,
    prompt: p.prompt ?? "",
    negativePrompt: p.negative_prompt ?? "",
    variants: String(p.variants ?? recipe.seeds.length),
    seed: String(recipe.seeds[0] ?? p.seed ?? 0),
    seedLocked: true,
    engine: recipe.engine,
    model: recipe.model?.name ?? "",
  };
  if (p.strength !== undefined) values.strength = String(Math.round(p.strength * 100));
  if (p.guidance !== undefined) values.guidance = String(p.guidance);
  if (p.expand) {
    const { left = 0, top = 0, right = 0, bottom = 0 } = p.expand;
    Object.assign(values, { expandLeft: String(left), expandTop: String(top), expandRight: String(right), expandBottom: String(bottom) });
  }
  return values;
}

/** A recipe's LoRAs as chips: its params hold the resolved stack, a style's LoRAs included. */
export function lorasFromRecipe(recipe: Recipe): LoraChip[] {
  return (recipe.params.loras ?? []).map((l) => ({ name: l.name, weight: l.weight ?? 1 }));
}

// Control layers and LoRA chips as the panel keeps them, and what they become
// on the wire. Pure: the panel edits these lists, the job controller reads the
// marked layers' pixels and sends `params.controls` / `params.loras` from them.

import type { ControlKind, ControlRef, EngineInfo, LoraRef, ModelInfo, StyleInfo } from "./protocol.js";
import type { FormValues } from "./form.js";

/** A layer the user marked as a control, like Krita AI Diffusion's control layers. */
export interface ControlLayer {
  /** The marked layer; null when the agent derives the map from the job's source. */
  layerId: number | null;
  /** What the panel shows: the layer's name, or "from the source". */
  label: string;
  kind: ControlKind;
  /** 0-2, as the protocol takes it. */
  strength: number;
  /** Fractions of the steps during which it steers. */
  start: number;
  end: number;
}

export interface LoraChip {
  name: string;
  /** -2..2; 0 leaves the LoRA out exactly. */
  weight: number;
}

/** The protocol's own limits (PROTOCOL.md, Parameters and Controls). */
export const MAX_CONTROLS = 4;
export const MAX_LORAS = 8;

/** Kinds a person draws: the agent cannot derive them from the source. */
const DRAWN_KINDS: readonly ControlKind[] = ["scribble"];

export function modelInfo(engine: EngineInfo | undefined, model: string): ModelInfo | undefined {
  const details = engine?.model_details ?? [];
  return details.find((m) => m.name === model) ?? (model ? undefined : details[0]);
}

/** Kinds the chosen model has a ControlNet for, in the agent's order, each once. */
export function controlKindsFor(model: ModelInfo | undefined): ControlKind[] {
  return [...new Set((model?.controlnets ?? []).map((c) => c.kind))];
}

/** Whether the agent can derive this kind's map from the job's own pixels for that model. */
export function derivable(model: ModelInfo | undefined, kind: ControlKind): boolean {
  return !DRAWN_KINDS.includes(kind) && (model?.preprocessors ?? []).includes(kind);
}

/** A new control, or the sentence saying what is wrong with it. */
export function checkControl(control: ControlLayer, existing: readonly ControlLayer[], model: ModelInfo | undefined): ControlLayer | { error: string } {
  if (existing.length >= MAX_CONTROLS) return { error: `A job takes at most ${MAX_CONTROLS} controls: remove one first.` };
  if (!controlKindsFor(model).includes(control.kind)) {
    return { error: `The model '${model?.name ?? "(none)"}' has no ${control.kind} ControlNet; the agent lists one per kind it can use.` };
  }
  if (control.layerId === null && !derivable(model, control.kind)) {
    return { error: `A ${control.kind} control needs a layer: the agent cannot derive it from the source.` };
  }
  if (!(control.strength >= 0 && control.strength <= 2)) return { error: "A control's strength must be between 0 and 2." };
  if (!(control.start >= 0 && control.end <= 1 && control.start < control.end)) {
    return { error: "A control's steps must start before they end, both between 0 and 1." };
  }
  return control;
}

/** `params.controls`, in the order of `submit.controls` (a layer's pixels, or null for the source). */
export function controlRefs(controls: readonly ControlLayer[]): ControlRef[] {
  return controls.map((c) => ({ kind: c.kind, image: c.layerId === null ? "source" : "sent", strength: c.strength, start: c.start, end: c.end }));
}

/** A chip added, or its weight changed when the LoRA already has one: each name at most once. */
export function addLora(chips: readonly LoraChip[], chip: LoraChip): LoraChip[] | { error: string } {
  if (!(chip.weight >= -2 && chip.weight <= 2)) return { error: "A LoRA's weight must be between -2 and 2." };
  if (chips.some((c) => c.name === chip.name)) return chips.map((c) => (c.name === chip.name ? chip : c));
  if (chips.length >= MAX_LORAS) return { error: `A job takes at most ${MAX_LORAS} LoRAs: remove one first.` };
  return [...chips, chip];
}

export function loraRefs(chips: readonly LoraChip[]): LoraRef[] {
  return chips.map(({ name, weight }) => ({ name, weight }));
}

/** The engine and model a style runs on, for the pickers; nothing when it runs on the job's own. */
export function styleTarget(style: StyleInfo | undefined, engines: readonly EngineInfo[]): { engine: string; model: string } | null {
  if (!style?.model) return null;
  const engine = engines.find((e) => e.models?.includes(style.model as string));
  return engine ? { engine: engine.name, model: style.model } : null;
}

export function controlLabel(control: ControlLayer): string {
  const steps = control.start > 0 || control.end < 1 ? ` · steps ${Math.round(control.start * 100)}-${Math.round(control.end * 100)}%` : "";
  return `${control.kind} · ${control.label} · ${control.strength}${steps}`;
}

/** What picking a style fills in: the panel's fields it sets, its LoRAs as chips, and a line naming all it sets. */
export interface StyleFill {
  form: Partial<Pick<FormValues, "negativePrompt" | "strength">>;
  /** Null when the style leaves the LoRAs to the job. */
  loras: LoraChip[] | null;
  summary: string;
}

export function styleFill(style: StyleInfo | undefined): StyleFill {
  const sets = style?.sets ?? {};
  const form: StyleFill["form"] = {};
  if (sets.negative_prompt !== undefined) form.negativePrompt = sets.negative_prompt;
  if (sets.strength !== undefined) form.strength = String(Math.round(sets.strength * 100));
  const loras = sets.loras ? sets.loras.map((l) => ({ name: l.name, weight: l.weight ?? 1 })) : null;
  const parts: string[] = [];
  if (sets.prompt) parts.push(`prompt “${sets.prompt}”`);
  if (sets.negative_prompt) parts.push(`negative prompt “${sets.negative_prompt}”`);
  if (sets.model) parts.push(`model ${sets.model}`);
  for (const lora of loras ?? []) parts.push(`LoRA ${lora.name} ${lora.weight}`);
  for (const key of ["steps", "guidance", "scheduler", "strength"] as const) if (sets[key] !== undefined) parts.push(`${key} ${sets[key]}`);
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;
  if (sets.references?.length) parts.push(count(sets.references.length, "reference image"));
  if (sets.controls?.length) parts.push(count(sets.controls.length, "control"));
  return { form, loras, summary: parts.length ? `Sets ${parts.join(", ")}.` : "" };
}

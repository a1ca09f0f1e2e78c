// What one model of an engine can do, read from the handshake, so every plugin offers only that: its modes,
// how its guidance steers, the sizes it works at. Pure, shared by the Photoshop and Figma plugins.

import type { EngineInfo, Mode } from "./messages.gen.js";

export type Guidance = "cfg" | "distilled" | "none";

export interface ModelAbilities {
  modes: Mode[];
  guidance: Guidance;
  nativeMin: number;
  nativeMax: number;
  maxPixels: number;
  multiple: number;
}

/**
 * `model` of `engine` ("" for the engine's default model, which the agent names): the model's own details
 * where the agent sent them, else the engine's figures. An engine without details says nothing of guidance,
 * so one that takes prompts is taken to steer by classifier-free guidance.
 */
export function abilitiesOf(engine: EngineInfo, model: string): ModelAbilities {
  const name = model || engine.default_model || "";
  const details = name ? engine.model_details?.find((m) => m.name === name) : undefined;
  if (details?.modes?.length) {
    return {
      modes: details.modes,
      guidance: details.guidance ?? "none",
      nativeMin: details.native_min || engine.native_min,
      nativeMax: details.native_max || engine.native_max,
      maxPixels: details.max_pixels || engine.max_pixels,
      multiple: details.multiple || engine.multiple,
    };
  }
  return {
    modes: engine.modes, guidance: engine.uses_prompt ? "cfg" : "none",
    nativeMin: engine.native_min, nativeMax: engine.native_max, maxPixels: engine.max_pixels,
    multiple: engine.multiple,
  };
}

/** The plugin's own modes (in its menu order) that the model can do. */
export function offeredModes<M extends Mode>(menu: readonly M[], abilities: ModelAbilities): M[] {
  return menu.filter((mode) => abilities.modes.includes(mode));
}

/** The mode to show after the menu changed: the one chosen if still offered, else the first offered. */
export function keptMode<M extends Mode>(chosen: string, offered: readonly M[]): M | undefined {
  return offered.find((mode) => mode === chosen) ?? offered[0];
}

/** The guidance control's label, or null where the model has none to steer (the control is hidden). */
export function guidanceLabel(guidance: Guidance): string | null {
  if (guidance === "none") return null;
  return guidance === "distilled" ? "Distilled guidance" : "Guidance (CFG)";
}

/** What the prompt box asks for: an edit's prompt is the instruction. */
export function promptLabel(mode: Mode): { label: string; placeholder: string } {
  if (mode === "edit") return { label: "Describe the change", placeholder: "e.g. make the jacket red, remove the text" };
  return { label: "Prompt", placeholder: "What should appear in the selection" };
}

/** Where a job's strength (how much may change) applies. */
export function usesStrength(mode: Mode): boolean {
  return mode === "refine" || mode === "edit";
}

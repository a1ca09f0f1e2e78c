// What the panel asks for, turned into protocol parameters. Shared by the main
// thread (which builds jobs) and the UI (which offers the choices).
import type { MaskKind } from "./recipe.js";
import type { Mode, Params } from "./protocol.js";

/** Modes the panel offers, in menu order, with what they need from the frame. */
export const MODES: readonly { mode: Mode; label: string; mask: MaskKind; needsImage: boolean }[] = [
  { mode: "generate", label: "Generate from the brief", mask: "none", needsImage: false },
  { mode: "refine", label: "Refine the frame's pixels", mask: "full", needsImage: true },
  { mode: "fill", label: "Fill the frame's centre", mask: "centre", needsImage: true },
  { mode: "remove", label: "Remove what is in the centre", mask: "centre", needsImage: true },
];

export function modeInfo(mode: Mode): (typeof MODES)[number] {
  const info = MODES.find((m) => m.mode === mode);
  if (!info) throw new RangeError(`The panel does not offer mode '${mode}'.`);
  return info;
}

/** Styles are words added to the prompt: every prompt-reading model understands them. */
export const STYLES: readonly { id: string; label: string; words: string }[] = [
  { id: "none", label: "No style", words: "" },
  { id: "photo", label: "Photograph", words: "photograph, natural light" },
  { id: "illustration", label: "Illustration", words: "flat illustration, clean shapes" },
  { id: "render", label: "3D render", words: "3d render, soft shadows" },
  { id: "sketch", label: "Pencil sketch", words: "pencil sketch, paper texture" },
];

export interface Brief {
  mode: Mode;
  prompt: string;
  negativePrompt: string;
  variants: number;
  /** The locked seed, or null for a new random one each run. */
  seed: number | null;
  engine: string | null;
  model: string | null;
  style: string;
}

export const MAX_SEED = 0xffffffff;

export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * (MAX_SEED + 1)) >>> 0;
}

/** Prompt from the box, else from a selected text layer; the style's words appended. */
export function promptFor(brief: Brief, textLayerBrief: string): string {
  const base = brief.prompt.trim() || textLayerBrief.trim();
  const words = STYLES.find((s) => s.id === brief.style)?.words ?? "";
  return [base, words].filter(Boolean).join(", ").slice(0, 4000);
}

export function paramsFor(brief: Brief, textLayerBrief: string, seed: number, variants: number): Params {
  const params: Params = {
    prompt: promptFor(brief, textLayerBrief),
    negative_prompt: brief.negativePrompt.trim().slice(0, 4000),
    variants,
    seed: seed >>> 0,
  };
  if (brief.engine) params.engine = brief.engine;
  if (brief.model) params.model = brief.model;
  return params;
}

let counter = 0;
/** Job ids must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}; time + counter keeps them unique per file session. */
export function newJobId(now = Date.now()): string {
  counter = (counter + 1) % 1_000_000;
  return `figma-${now.toString(36)}-${counter.toString(36)}-${Math.floor(Math.random() * 1296).toString(36)}`;
}

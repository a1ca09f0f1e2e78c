// What the panel asks for, turned into protocol parameters. Shared by the main
// thread (which builds jobs) and the UI (which offers the choices).
import type { MaskKind } from "./recipe.js";
import type { LoraRef, Mode, Params, ReferenceRef } from "./protocol.js";
import { usesStrength } from "../../../../protocol/client/src/models.js";

/** Modes the panel offers, in menu order, with what they need from the frame; the menu shows those the chosen model can do. */
export const MODES: readonly { mode: Mode; label: string; mask: MaskKind; needsImage: boolean }[] = [
  { mode: "generate", label: "Generate from the brief", mask: "none", needsImage: false },
  { mode: "refine", label: "Refine the frame's pixels", mask: "full", needsImage: true },
  { mode: "fill", label: "Fill the frame's centre", mask: "centre", needsImage: true },
  { mode: "remove", label: "Remove what is in the centre", mask: "centre", needsImage: true },
  { mode: "edit", label: "Edit the frame by instruction", mask: "full", needsImage: true },
];

export function modeInfo(mode: Mode): (typeof MODES)[number] {
  const info = MODES.find((m) => m.mode === mode);
  if (!info) throw new RangeError(`The panel does not offer mode '${mode}'.`);
  return info;
}

/** A node of the file as a reference image (IP-Adapter): exported when a job goes, so it shows what the canvas shows then. */
export interface ReferenceChoice {
  nodeId: string;
  /** The node's name, for the chip. */
  name: string;
  /** 0-2; 0 is the job without it. */
  weight: number;
  /** "all": content and look; "style": only the look. */
  focus: NonNullable<ReferenceRef["focus"]>;
}

/** The protocol's limit (PROTOCOL.md, References). */
export const MAX_REFERENCES = 4;

export interface Brief {
  mode: Mode;
  prompt: string;
  negativePrompt: string;
  variants: number;
  /** The locked seed, or null for a new random one each run. */
  seed: number | null;
  engine: string | null;
  model: string | null;
  /** A style the agent keeps (`capabilities.styles`), "" for none: the agent fills the fields the job leaves unset. */
  style: string;
  loras: LoraRef[];
  /** Hold the frame's layout with the model's canny ControlNet, edges derived by the agent from the frame. */
  edges: boolean;
  /** Reference images, in the order they are sent; a set sends them once for every frame. */
  references: ReferenceChoice[];
  /** Refine and Edit: how much may change (0-1); absent leaves it to the agent. */
  strength?: number;
  /** How closely to follow the prompt; absent where the model has no guidance or the field is left empty. */
  guidance?: number;
}

export const MAX_SEED = 0xffffffff;

export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * (MAX_SEED + 1)) >>> 0;
}

/** Prompt from the box, else from a selected text layer. */
export function promptFor(brief: Brief, textLayerBrief: string): string {
  return (brief.prompt.trim() || textLayerBrief.trim()).slice(0, 4000);
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
  if (brief.style) params.style = brief.style;
  if (brief.loras.length) params.loras = brief.loras.map((l) => ({ ...l }));
  if (brief.strength !== undefined && usesStrength(brief.mode)) params.strength = brief.strength;
  if (brief.guidance !== undefined) params.guidance = brief.guidance;
  if (brief.references.length) params.references = brief.references.map(({ weight, focus }) => ({ weight, focus }));
  // Edges come from the frame's own pixels, so only modes that send them can hold to them.
  if (brief.edges && modeInfo(brief.mode).needsImage) params.controls = [{ kind: "canny", image: "source" }];
  return params;
}

let counter = 0;
/** Job ids must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}; time + counter keeps them unique per file session. */
export function newJobId(now = Date.now()): string {
  counter = (counter + 1) % 1_000_000;
  return `figma-${now.toString(36)}-${counter.toString(36)}-${Math.floor(Math.random() * 1296).toString(36)}`;
}

// Messages between the main thread (figma API, no network) and the UI iframe
// (the websocket). Each carries at most one frame's image (a job also carries
// its reference images, exported small), so no message holds many megabytes
// at once. Both sides check what they receive: a message of another
// shape is dropped, never half-handled.
import { MAX_REFERENCES, type Brief } from "./brief.js";
import type { Margins } from "./expand.js";
import type { MaskKind } from "./recipe.js";
import type { Mode, Params, Recipe } from "./protocol.js";
import type { Size, SizeRules } from "./size.js";

export type Command = "fill" | "variants" | "regenerate" | "vary" | "set" | "reseed-set" | "expand";

/** The set an order belongs to: the UI holds its orders until all `count` are in, then submits them as one `submit_set`. */
export interface SetPart {
  id: string;
  count: number;
}

/** One agent job the main thread asks the UI to run; targets are node ids fixed now, one per variant. */
export interface JobOrder {
  jobId: string;
  command: Command;
  mode: Mode;
  params: Params;
  size: Size;
  mask: MaskKind;
  targets: string[];
  label: string;
  set?: SetPart;
  /** Expand: how much the node grows on each side, in its own units, when the result lands (params.expand has the pixels). */
  grow?: Margins;
  /** The nodes exported as `params.references`, in order: kept with the result, so a relaunch exports them again. */
  references?: string[];
}

export interface SelectionInfo {
  frames: number;
  /** Characters of a selected text layer: the brief when the prompt box is empty. */
  textBrief: string;
}

export type MainToUi =
  | { type: "init"; token: string; agentUrl: string; command: string | null; selection: SelectionInfo }
  | { type: "selection"; selection: SelectionInfo }
  /** `references`: one PNG per `order.params.references`, in order. */
  | { type: "job"; order: JobOrder; source: Uint8Array | null; references: Uint8Array[] }
  /** The node picked as a reference (the answer to `pick-reference`). */
  | { type: "reference"; nodeId: string; name: string }
  | { type: "notice"; text: string };

export type UiToMain =
  | { type: "ready" }
  | { type: "save-token"; token: string }
  | { type: "connected"; engines: string[] }
  | { type: "run"; command: "fill" | "variants" | "set"; brief: Brief; rules: SizeRules }
  | { type: "reseed-set" }
  /** Use the selected node as a reference image. */
  | { type: "pick-reference" }
  /** Expand the selected frames by `margins` (frame units), or to `aspect` (width / height) when it is set. */
  | { type: "expand"; brief: Brief; rules: SizeRules; margins: Margins; aspect: number | null }
  | { type: "image"; jobId: string; target: string; variant: number; seed: number; png: Uint8Array }
  | { type: "finished"; jobId: string; state: "done" | "error" | "cancelled"; recipe: Recipe | null; message: string }
  | { type: "notify"; text: string; error: boolean };

type Check = (m: Record<string, unknown>) => boolean;
const str = (v: unknown): v is string => typeof v === "string";
const int = (v: unknown): v is number => Number.isInteger(v);
const obj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const bytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

const isSize = (v: unknown): boolean => obj(v) && int(v.width) && int(v.height) && v.width > 0 && v.height > 0;
const isSetPart = (v: unknown): boolean => v === undefined || (obj(v) && str(v.id) && int(v.count) && v.count > 0);
const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isMargins = (v: unknown): boolean => obj(v) && ["left", "top", "right", "bottom"].every((side) => num(v[side]) && v[side] >= 0);
const isOrder = (v: unknown): boolean =>
  obj(v) && str(v.jobId) && str(v.command) && str(v.mode) && obj(v.params) && isSize(v.size) && str(v.mask) && str(v.label) &&
  Array.isArray(v.targets) && v.targets.length > 0 && v.targets.every(str) && isSetPart(v.set) &&
  (v.grow === undefined || isMargins(v.grow)) && (v.references === undefined || (Array.isArray(v.references) && v.references.every(str)));
const isSelection = (v: unknown): boolean => obj(v) && int(v.frames) && str(v.textBrief);
const isBrief = (v: unknown): boolean =>
  obj(v) && str(v.mode) && str(v.prompt) && str(v.negativePrompt) && int(v.variants) && (v.seed === null || int(v.seed)) && str(v.style) &&
  Array.isArray(v.loras) && v.loras.every((l) => obj(l) && str(l.name) && typeof l.weight === "number") && typeof v.edges === "boolean" &&
  Array.isArray(v.references) && v.references.length <= MAX_REFERENCES &&
  (v.strength === undefined || (num(v.strength) && v.strength >= 0 && v.strength <= 1)) &&
  (v.guidance === undefined || (num(v.guidance) && v.guidance >= 0 && v.guidance <= 30)) &&
  v.references.every((r) => obj(r) && str(r.nodeId) && str(r.name) && num(r.weight) && r.weight >= 0 && r.weight <= 2 && (r.focus === "all" || r.focus === "style"));
const isRules = (v: unknown): boolean => obj(v) && int(v.multiple) && int(v.nativeMin) && int(v.maxPixels);

const MAIN_TO_UI: Record<MainToUi["type"], Check> = {
  init: (m) => str(m.token) && str(m.agentUrl) && (m.command === null || str(m.command)) && isSelection(m.selection),
  selection: (m) => isSelection(m.selection),
  job: (m) => isOrder(m.order) && (m.source === null || bytes(m.source)) && Array.isArray(m.references) && m.references.every(bytes),
  reference: (m) => str(m.nodeId) && str(m.name),
  notice: (m) => str(m.text),
};

const UI_TO_MAIN: Record<UiToMain["type"], Check> = {
  ready: () => true,
  "save-token": (m) => str(m.token),
  connected: (m) => Array.isArray(m.engines),
  run: (m) => ["fill", "variants", "set"].includes(m.command as string) && isBrief(m.brief) && isRules(m.rules),
  "reseed-set": () => true,
  "pick-reference": () => true,
  expand: (m) => isBrief(m.brief) && isRules(m.rules) && isMargins(m.margins) && (m.aspect === null || (num(m.aspect) && m.aspect > 0)),
  image: (m) => str(m.jobId) && str(m.target) && int(m.variant) && int(m.seed) && bytes(m.png),
  finished: (m) => str(m.jobId) && ["done", "error", "cancelled"].includes(m.state as string) && (m.recipe === null || obj(m.recipe)) && str(m.message),
  notify: (m) => str(m.text) && typeof m.error === "boolean",
};

function parse<T>(table: Record<string, Check>, value: unknown): T | null {
  if (!obj(value) || !str(value.type) || !Object.prototype.hasOwnProperty.call(table, value.type)) return null;
  return table[value.type](value) ? (value as T) : null;
}

export const parseMainMessage = (value: unknown): MainToUi | null => parse<MainToUi>(MAIN_TO_UI, value);
export const parseUiMessage = (value: unknown): UiToMain | null => parse<UiToMain>(UI_TO_MAIN, value);

// Names the user sees in the Layers and History panels.

import type { Mode } from "./protocol.js";
import { MODE_LABELS } from "./modes.js";

const MAX_NAME = 60;

/**
 * The group is named after the brief, like Generative Fill; an edit's after its instruction as a change
 * ("Edit: make the jacket red", as the agent names it); without a prompt, after the mode.
 */
export function groupName(mode: Mode, prompt: string): string {
  const brief = prompt.trim().replace(/\s+/g, " ");
  if (!brief) return `Underpaint ${MODE_LABELS[mode]}`;
  return short(mode === "edit" ? `${MODE_LABELS[mode]}: ${brief}` : brief);
}

export function historyName(mode: Mode, prompt: string): string {
  const brief = prompt.trim().replace(/\s+/g, " ");
  return brief ? `Underpaint ${MODE_LABELS[mode]}: ${short(brief)}` : `Underpaint ${MODE_LABELS[mode]}`;
}

function short(name: string): string {
  return name.length > MAX_NAME ? `${name.slice(0, MAX_NAME - 1)}…` : name;
}

/** A job id the agent accepts ([A-Za-z0-9][A-Za-z0-9._-]{0,63}), unique per press of Generate. */
export function newJobId(documentId: number, now = Date.now(), random = Math.random): string {
  const tail = Math.floor(random() * 36 ** 6).toString(36).padStart(6, "0");
  return `ps-${documentId}-${now.toString(36)}-${tail}`;
}

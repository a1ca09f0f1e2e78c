// Names the user sees in the Layers and History panels.

import type { Mode } from "./protocol.js";
import { MODE_LABELS } from "./modes.js";

const MAX_NAME = 60;

/** The group is named after the brief, like Generative Fill; without a prompt, after the mode. */
export function groupName(mode: Mode, prompt: string): string {
  const brief = prompt.trim().replace(/\s+/g, " ");
  if (!brief) return `Underpaint ${MODE_LABELS[mode]}`;
  return brief.length > MAX_NAME ? `${brief.slice(0, MAX_NAME - 1)}…` : brief;
}

export function historyName(mode: Mode, prompt: string): string {
  const brief = groupName(mode, prompt);
  return brief.startsWith("Underpaint") ? brief : `Underpaint ${MODE_LABELS[mode]}: ${brief}`;
}

/** A job id the agent accepts ([A-Za-z0-9][A-Za-z0-9._-]{0,63}), unique per press of Generate. */
export function newJobId(documentId: number, now = Date.now(), random = Math.random): string {
  const tail = Math.floor(random() * 36 ** 6).toString(36).padStart(6, "0");
  return `ps-${documentId}-${now.toString(36)}-${tail}`;
}

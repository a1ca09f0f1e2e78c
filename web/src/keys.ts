// Keyboard shortcuts of the gallery: what a key press does, and moving through the variants.

export type Action = "next" | "previous" | "nextRow" | "previousRow" | "pick" | "reject" | "star" | "compare" | "open" | "close" | "help";

export interface KeyPress {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  /** The tag name of the focused element: typing in a field is never a shortcut. */
  targetTag?: string;
}

const KEYS: Record<string, Action> = {
  ArrowRight: "next", l: "next", ArrowLeft: "previous", h: "previous",
  ArrowDown: "nextRow", j: "nextRow", ArrowUp: "previousRow", k: "previousRow",
  p: "pick", x: "reject", s: "star", c: "compare", Enter: "open", Escape: "close", "?": "help",
};

export const SHORTCUTS: [string, string][] = [
  ["← → or h l", "previous / next variant"],
  ["↑ ↓ or k j", "previous / next job"],
  ["p", "pick (again: undo)"],
  ["x", "reject (again: undo)"],
  ["s", "star"],
  ["c", "add to / remove from the comparison"],
  ["Enter", "open the variant"],
  ["Esc", "close"],
];

export function actionFor(press: KeyPress): Action | null {
  if (press.ctrlKey || press.metaKey || press.altKey) return null;
  const tag = (press.targetTag ?? "").toUpperCase();
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return press.key === "Escape" ? "close" : null;
  return KEYS[press.key] ?? null;
}

/** The index `delta` steps from `current` in a list of `count`, held at the ends; the first when none is selected. */
export function step(count: number, current: number, delta: number): number {
  if (count === 0) return -1;
  if (current < 0) return 0;
  return Math.min(count - 1, Math.max(0, current + delta));
}

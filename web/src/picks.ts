// What star, pick and reject do to a variant's pick: each toggles, pick and reject exclude each other.
import type { Pick, VariantRef } from "./types.js";

export type Decision = "star" | "pick" | "reject";

export function decide(pick: Pick, decision: Decision): Pick {
  if (decision === "star") return { ...pick, starred: !pick.starred };
  const verdict = decision === "pick" ? "pick" : "reject";
  return { ...pick, verdict: pick.verdict === verdict ? null : verdict };
}

export function pickOf(picks: Pick[], variant: number): Pick {
  return picks.find((pick) => pick.variant === variant) ?? { variant, starred: false, verdict: null, note: "" };
}

export const MAX_COMPARED = 4;

export function sameVariant(a: VariantRef, b: VariantRef): boolean {
  return a.jobId === b.jobId && a.variant === b.variant;
}

/** Adds a variant to the comparison or takes it out; a fifth pushes out the oldest. */
export function toggleCompared(compared: VariantRef[], ref: VariantRef): VariantRef[] {
  if (compared.some((other) => sameVariant(other, ref))) return compared.filter((other) => !sameVariant(other, ref));
  return [...compared, ref].slice(-MAX_COMPARED);
}

// The re-run form's values: only the fields a person changed go to the agent.

export interface RerunFields {
  prompt: string;
  seed: string;
  style: string;
  strength: string;
}

export interface RecipeParams {
  prompt?: string;
  seed?: number;
  strength?: number;
}

export function rerunDefaults(params: RecipeParams): RerunFields {
  return { prompt: params.prompt ?? "", seed: String(params.seed ?? 0), style: "", strength: String(params.strength ?? 1) };
}

/** The changes of a re-run: the fields that differ from the recipe, typed; a message for a value that is not one. */
export function rerunChanges(params: RecipeParams, fields: RerunFields): { changes: Record<string, unknown> } | { problem: string } {
  const changes: Record<string, unknown> = {};
  if (fields.prompt !== (params.prompt ?? "")) changes.prompt = fields.prompt;
  const seed = Number(fields.seed);
  if (!/^\d+$/.test(fields.seed.trim()) || seed > 2 ** 32 - 1) return { problem: "The seed is a whole number from 0 to 4294967295." };
  if (seed !== (params.seed ?? 0)) changes.seed = seed;
  const strength = Number(fields.strength);
  if (fields.strength.trim() === "" || !Number.isFinite(strength) || strength < 0 || strength > 1) return { problem: "The strength is a number from 0 to 1." };
  if (strength !== (params.strength ?? 1)) changes.strength = strength;
  if (fields.style) changes.style = fields.style;
  return { changes };
}

/** A seed no variant of the recipe used: the one after its last. */
export function freshSeed(params: RecipeParams, variants: number): number {
  return ((params.seed ?? 0) + Math.max(1, variants)) % 2 ** 32;
}

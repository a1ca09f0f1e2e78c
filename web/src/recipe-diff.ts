// Recipes side by side: every field as a path and a printed value, marked where the recipes differ.

export interface DiffRow {
  path: string;
  values: (string | undefined)[];
  differs: boolean;
}

/** Leaves of a JSON value by dotted path (`params.loras.0.weight`); empty arrays and objects inside are leaves. */
export function flatten(value: unknown, prefix = "", into: Map<string, string> = new Map()): Map<string, string> {
  if (value !== null && typeof value === "object" && (Object.keys(value).length > 0 || prefix === "")) {
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      flatten(child, prefix ? `${prefix}.${key}` : key, into);
    }
  } else {
    into.set(prefix, JSON.stringify(value));
  }
  return into;
}

/** One row per path any recipe has, in first-seen order; a path a recipe lacks shows as undefined. */
export function diffRecipes(recipes: unknown[]): DiffRow[] {
  const flat = recipes.map((recipe) => flatten(recipe));
  const paths: string[] = [];
  const seen = new Set<string>();
  for (const map of flat) {
    for (const path of map.keys()) {
      if (!seen.has(path)) {
        seen.add(path);
        paths.push(path);
      }
    }
  }
  return paths.map((path) => {
    const values = flat.map((map) => map.get(path));
    return { path, values, differs: values.some((value) => value !== values[0]) };
  });
}

/** The seeds array of a recipe holds every variant's seed; a variant is told apart by its own. */
export function variantRecipe(recipe: Record<string, unknown>, variant: number): Record<string, unknown> {
  const seeds = Array.isArray(recipe.seeds) ? recipe.seeds : [];
  const { seeds: _all, ...rest } = recipe;
  return { ...rest, variant: variant + 1, seed: seeds[variant] };
}

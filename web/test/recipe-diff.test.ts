// Recipes compared field by field.
import { describe, expect, it } from "vitest";
import { diffRecipes, flatten, variantRecipe } from "../src/recipe-diff.js";

describe("recipe differences", () => {
  it("flatten nested fields to dotted paths, empty lists kept as values", () => {
    expect(Object.fromEntries(flatten({ params: { seed: 4, loras: [{ name: "ink", weight: 0.5 }], controls: [] } }))).toEqual({
      "params.seed": "4", "params.loras.0.name": '"ink"', "params.loras.0.weight": "0.5", "params.controls": "[]",
    });
  });

  it("mark the fields whose values differ and keep the rest", () => {
    const rows = diffRecipes([{ engine: "classic", params: { seed: 1, prompt: "kite" } }, { engine: "classic", params: { seed: 2, prompt: "kite" } }]);
    expect(rows.filter((row) => row.differs).map((row) => row.path)).toEqual(["params.seed"]);
    expect(rows.find((row) => row.path === "engine")).toEqual({ path: "engine", values: ['"classic"', '"classic"'], differs: false });
  });

  it("show a field only one recipe has as missing in the others", () => {
    const rows = diffRecipes([{ style: "brand" }, {}]);
    expect(rows).toEqual([{ path: "style", values: ['"brand"', undefined], differs: true }]);
  });

  it("tell variants of one recipe apart by their own seed", () => {
    const recipe = { engine: "classic", seeds: [10, 11, 12] };
    const rows = diffRecipes([variantRecipe(recipe, 0), variantRecipe(recipe, 2)]);
    expect(rows.filter((row) => row.differs).map((row) => [row.path, row.values])).toEqual([["variant", ["1", "3"]], ["seed", ["10", "12"]]]);
  });
});

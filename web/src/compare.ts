// Two to four variants side by side, an A/B slider over one of them and the source (or another),
// and their recipes in one table with the differences marked.
import { files } from "./api.js";
import { h, replace } from "./dom.js";
import { brief } from "./format.js";
import { diffRecipes, variantRecipe } from "./recipe-diff.js";
import type { JobDetail, VariantRef } from "./types.js";

export interface Compared {
  ref: VariantRef;
  job: JobDetail;
}

export const letter = (index: number) => String.fromCharCode(65 + index);

interface Layer {
  label: string;
  src: string;
}

function layers(items: Compared[]): Layer[] {
  const variants = items.map((item, index) => ({ label: `${letter(index)}: variant ${item.ref.variant + 1}`, src: files.variant(item.job.job_id, item.ref.variant) }));
  const sources = items[0].job.mode === "generate" ? [] : [{ label: `source of ${letter(0)}`, src: files.source(items[0].job.job_id) }];
  return [...variants, ...sources];
}

function slider(items: Compared[]): HTMLElement {
  const choices = layers(items);
  let top = choices[0];
  let bottom = choices[choices.length - 1] === top ? choices[0] : choices[choices.length - 1];
  const topImage = h("img", { class: "top", alt: "", src: top.src });
  const bottomImage = h("img", { class: "bottom", alt: "", src: bottom.src });
  const frame = h("div", { class: "ab-frame" }, bottomImage, topImage, h("div", { class: "ab-line" }));
  // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
  frame.style.setProperty("--split", "50%");
  const range = h("input", {
    type: "range", min: "0", max: "100", value: "50", id: "ab-range", "aria-label": "A/B split",
    oninput: (event: Event) => frame.style.setProperty("--split", `${(event.target as HTMLInputElement).value}%`),
  });
  const picker = (name: string, current: Layer, onPick: (layer: Layer) => void) => h("select", {
    name, onchange: (event: Event) => onPick(choices[Number((event.target as HTMLSelectElement).value)]),
  }, choices.map((choice, index) => h("option", { value: index, selected: choice === current }, choice.label)));
  return h("section", { class: "ab" },
    h("div", { class: "row" },
      h("label", { class: "field" }, h("span", {}, "Left"), picker("ab-left", top, (layer) => { top = layer; topImage.src = layer.src; })),
      h("label", { class: "field grow" }, h("span", {}, "Split"), range),
      h("label", { class: "field" }, h("span", {}, "Right"), picker("ab-right", bottom, (layer) => { bottom = layer; bottomImage.src = layer.src; }))),
    frame);
}

function diffTable(items: Compared[]): HTMLElement {
  const recipes = items.map((item) => variantRecipe(item.job.recipe ?? {}, item.ref.variant));
  const rows = diffRecipes(recipes);
  const onlyDifferences = h("input", { type: "checkbox", checked: true, onchange: (event: Event) => table.classList.toggle("all", !(event.target as HTMLInputElement).checked) });
  const table = h("table", { class: "diff" },
    h("thead", {}, h("tr", {}, h("th", {}, "field"), items.map((_, index) => h("th", {}, letter(index))))),
    h("tbody", {}, rows.map((row) => h("tr", { class: row.differs ? "differs" : "same", "data-path": row.path },
      h("th", {}, row.path), row.values.map((value) => h("td", {}, value ?? "—"))))));
  const differing = rows.filter((row) => row.differs).length;
  return h("section", { class: "recipes" },
    h("div", { class: "row" }, h("h3", {}, `Recipes: ${differing} field${differing === 1 ? "" : "s"} differ`),
      h("label", { class: "check" }, onlyDifferences, "only differences")),
    table);
}

export function renderCompare(root: HTMLElement, items: Compared[], close: () => void): void {
  replace(root,
    h("header", {}, h("h2", {}, `Compare ${items.length} variants`), h("button", { type: "button", class: "quiet close", title: "Close (Esc)", onclick: close }, "✕")),
    slider(items),
    sideBySide(items),
    diffTable(items));
}

function sideBySide(items: Compared[]): HTMLElement {
  const grid = h("div", { class: "side-by-side" }, items.map((item, index) => h("figure", {},
      h("a", { href: files.variant(item.job.job_id, item.ref.variant), target: "_blank", rel: "noopener" },
        h("img", { src: files.variant(item.job.job_id, item.ref.variant), alt: `${letter(index)}` })),
      h("figcaption", {}, h("b", {}, letter(index)), ` ${brief(item.job.prompt, item.job.mode)} · seed ${item.job.seeds[item.ref.variant] ?? "?"}`))));
  grid.style.setProperty("--columns", String(items.length));
  return grid;
}

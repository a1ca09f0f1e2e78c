// The history as a gallery: the filter bar, one card per job with a tile per variant, and paging.
import { files } from "./api.js";
import { h, replace, select } from "./dom.js";
import { activeFilters, NO_FILTERS, type Filters } from "./filters.js";
import { brief, seconds, when } from "./format.js";
import { pickOf, sameVariant } from "./picks.js";
import type { Facets, GalleryJob, VariantRef } from "./types.js";

export interface GalleryHandlers {
  filter(filters: Filters): void;
  more(): void;
  select(ref: VariantRef, addToComparison: boolean): void;
  open(ref: VariantRef): void;
}

/** Variants a gallery shows, in reading order: every variant of every job that made some. */
export function variantsOf(jobs: GalleryJob[]): VariantRef[] {
  return jobs.flatMap((job) => (job.state === "done" ? Array.from({ length: job.variants }, (_, variant) => ({ jobId: job.job_id, variant })) : []));
}

/** The variant a row up or down from `current`: the same variant of the nearest job with one, else its last. */
export function rowStep(jobs: GalleryJob[], current: VariantRef | null, delta: 1 | -1): VariantRef | null {
  const done = jobs.filter((job) => job.state === "done");
  if (done.length === 0) return null;
  const index = current ? done.findIndex((job) => job.job_id === current.jobId) : -1;
  if (index < 0) return { jobId: done[0].job_id, variant: 0 };
  const target = done[Math.min(done.length - 1, Math.max(0, index + delta))];
  return { jobId: target.job_id, variant: Math.min(current!.variant, target.variants - 1) };
}

export function filterBar(filters: Filters, facets: Facets, handlers: GalleryHandlers): HTMLElement {
  const set = (change: Partial<Filters>) => handlers.filter({ ...filters, ...change });
  let typing: number | undefined;
  const text = h("input", {
    type: "search", name: "q", placeholder: "Prompt contains…", value: filters.text, "aria-label": "Prompt contains",
    oninput: (event: Event) => {
      window.clearTimeout(typing);
      const value = (event.target as HTMLInputElement).value;
      typing = window.setTimeout(() => set({ text: value }), 250);
    },
  });
  const day = (name: "from" | "to", label: string) => h("label", { class: "field" }, h("span", {}, label),
    h("input", { type: "date", name, value: filters[name], onchange: (event: Event) => set({ [name]: (event.target as HTMLInputElement).value }) }));
  return h("form", { class: "filters", onsubmit: (event: Event) => event.preventDefault() },
    h("label", { class: "field grow" }, h("span", {}, "Search"), text),
    select("mode", "Mode", facets.modes, filters.mode, (mode) => set({ mode })),
    select("model", "Model", facets.models, filters.model, (model) => set({ model })),
    select("style", "Style", facets.styles, filters.style, (style) => set({ style })),
    select("set", "Set", facets.sets, filters.set, (value) => set({ set: value })),
    select("source", "From", facets.sources, filters.source, (source) => set({ source })),
    day("from", "Since"), day("to", "Until"),
    select("keep", "Kept", ["starred", "picked", "rejected"], filters.keep, (keep) => set({ keep: keep as Filters["keep"] }), "all"),
    activeFilters(filters) ? h("button", { type: "button", class: "quiet", onclick: () => handlers.filter(NO_FILTERS) }, "Clear") : null,
  );
}

function tile(job: GalleryJob, variant: number, handlers: GalleryHandlers): HTMLElement {
  const ref = { jobId: job.job_id, variant };
  const seed = job.seeds[variant];
  return h("button", {
    type: "button", class: "tile", "data-job": job.job_id, "data-variant": variant,
    title: `Variant ${variant + 1}${seed === undefined ? "" : ` · seed ${seed}`} (click: select, shift-click: compare, double-click: open)`,
    onclick: (event: Event) => handlers.select(ref, (event as MouseEvent).shiftKey),
    ondblclick: () => handlers.open(ref),
  },
  h("img", { src: files.thumbnail(job.job_id, variant), alt: `${brief(job.prompt, job.mode)}, variant ${variant + 1}`, loading: "lazy", decoding: "async" }),
  h("span", { class: "badges" }, h("span", { class: "badge star" }, "★"), h("span", { class: "badge verdict" })),
  h("span", { class: "seed" }, seed === undefined ? `#${variant + 1}` : `seed ${seed}`));
}

export function card(job: GalleryJob, handlers: GalleryHandlers): HTMLElement {
  const meta = [job.mode, job.model ?? job.engine, job.style && `style ${job.style}`, job.set_id && `set ${job.set_id}`, job.source,
    job.engine_seconds !== null && seconds(job.engine_seconds), when(job.created_at)]
    .filter(Boolean).join(" · ");
  const body = job.state === "done"
    ? h("div", { class: "tiles" }, Array.from({ length: job.variants }, (_, variant) => tile(job, variant, handlers)))
    : h("p", { class: `ended ${job.state}` }, job.state === "cancelled" ? "Cancelled." : `${job.error_code ?? "error"}: ${job.error_message ?? ""}`);
  return h("article", { class: "card", "data-job": job.job_id, "data-state": job.state },
    h("header", {}, h("h3", { title: job.prompt }, brief(job.prompt, job.mode)), h("p", { class: "meta" }, meta)),
    body);
}

/** Marks each tile with its pick, the selection and the comparison, without rebuilding (or reloading) any image. */
export function markTiles(root: ParentNode, jobs: GalleryJob[], selected: VariantRef | null, compared: VariantRef[]): void {
  const byId = new Map(jobs.map((job) => [job.job_id, job]));
  for (const element of root.querySelectorAll<HTMLElement>(".tile")) {
    const job = byId.get(element.dataset.job ?? "");
    if (!job) continue;
    const ref = { jobId: job.job_id, variant: Number(element.dataset.variant) };
    const pick = pickOf(job.picks, ref.variant);
    element.classList.toggle("starred", pick.starred);
    element.dataset.verdict = pick.verdict ?? "";
    (element.querySelector(".verdict") as HTMLElement).textContent = pick.verdict === "pick" ? "✓ pick" : pick.verdict === "reject" ? "✕ reject" : "";
    element.classList.toggle("noted", pick.note !== "");
    const isSelected = selected !== null && sameVariant(selected, ref);
    element.classList.toggle("selected", isSelected);
    element.setAttribute("aria-pressed", String(isSelected));
    const place = compared.findIndex((other) => sameVariant(other, ref));
    element.classList.toggle("compared", place >= 0);
    element.dataset.compare = place >= 0 ? String.fromCharCode(65 + place) : "";
  }
}

export function renderGallery(root: HTMLElement, jobs: GalleryJob[], next: string | null, handlers: GalleryHandlers): void {
  const grid = h("div", { class: "grid" }, jobs.map((job) => card(job, handlers)));
  replace(root, jobs.length ? grid : h("p", { class: "empty" }, "No jobs match. Submit one from a plugin, the hot folder or the CLI, or clear the filters."),
    next ? h("button", { type: "button", class: "more", onclick: () => handlers.more() }, "Load more") : null);
}

export function appendCards(root: HTMLElement, jobs: GalleryJob[], next: string | null, handlers: GalleryHandlers): void {
  const grid = root.querySelector(".grid");
  root.querySelector(".more")?.remove();
  for (const job of jobs) grid?.appendChild(card(job, handlers));
  if (next) root.appendChild(h("button", { type: "button", class: "more", onclick: () => handlers.more() }, "Load more"));
}

// One variant opened beside the gallery: the full picture, star / pick / reject and a note, the files,
// its cost, its recipe (to copy) and a form to re-run it changed.
import { api, files } from "./api.js";
import { h, replace, toast } from "./dom.js";
import { brief, seconds, when } from "./format.js";
import { pickOf, type Decision } from "./picks.js";
import { freshSeed, rerunChanges, rerunDefaults, type RecipeParams, type RerunFields } from "./rerun.js";
import type { JobDetail, Library, Pick } from "./types.js";

export interface DetailHandlers {
  decide(decision: Decision): void;
  note(note: string): void;
  close(): void;
  rerun(changes: Record<string, unknown>): void;
}

function copyButton(jobId: string): HTMLButtonElement {
  return h("button", {
    type: "button", id: "copy-recipe",
    onclick: async () => {
      const text = await api.recipeText(jobId);
      try {
        await navigator.clipboard.writeText(text);
        toast("Recipe copied as JSON.");
      } catch {
        toast("The browser did not allow copying; select the recipe below and copy it.", "error");
      }
    },
  }, "Copy recipe JSON");
}

function rerunForm(job: JobDetail, library: Library | null, handlers: DetailHandlers): HTMLFormElement {
  const params = ((job.recipe?.params ?? {}) as RecipeParams);
  const values: RerunFields = rerunDefaults(params);
  const field = (name: keyof RerunFields, label: string, control: HTMLElement) => h("label", { class: "field" }, h("span", {}, label), control);
  const input = (name: keyof RerunFields, attributes: Record<string, string>) => h("input", {
    name, value: values[name], ...attributes, oninput: (event: Event) => (values[name] = (event.target as HTMLInputElement).value),
  });
  const seed = input("seed", { type: "number", min: "0", step: "1" });
  const styles = library?.capabilities.styles.map((style) => style.name) ?? [];
  return h("form", {
    class: "rerun", id: "rerun",
    onsubmit: (event: Event) => {
      event.preventDefault();
      const outcome = rerunChanges(params, values);
      if ("problem" in outcome) toast(outcome.problem, "error");
      else handlers.rerun(outcome.changes);
    },
  },
  h("h4", {}, "Re-run as a new job"),
  field("prompt", "Prompt", h("textarea", { name: "prompt", rows: 2, oninput: (event: Event) => (values.prompt = (event.target as HTMLTextAreaElement).value) }, values.prompt)),
  h("div", { class: "row" },
    field("seed", "Seed", seed),
    h("button", { type: "button", class: "quiet", title: "A seed none of these variants used", onclick: () => {
      values.seed = String(freshSeed(params, job.variants));
      (seed as HTMLInputElement).value = values.seed;
    } }, "New seed"),
    field("strength", "Strength", input("strength", { type: "number", min: "0", max: "1", step: "0.05" }))),
  field("style", "Style", h("select", { name: "style", onchange: (event: Event) => (values.style = (event.target as HTMLSelectElement).value) },
    h("option", { value: "" }, job.style ? `as recipe (${job.style})` : "as recipe"), styles.map((name) => h("option", { value: name }, name)))),
  h("button", { type: "submit", class: "primary" }, "Re-run"));
}

export function renderDetail(panel: HTMLElement, job: JobDetail, variant: number, library: Library | null, handlers: DetailHandlers): void {
  const pick: Pick = pickOf(job.picks, variant);
  const seed = job.seeds[variant];
  const button = (decision: Decision, label: string, pressed: boolean, key: string) => h("button", {
    type: "button", class: `decide ${decision}`, "data-decision": decision, "aria-pressed": String(pressed), title: `${label} (${key})`,
    onclick: () => handlers.decide(decision),
  }, label);
  const note = h("textarea", { name: "note", rows: 2, placeholder: "Why this one (or not)…" }, pick.note);
  const onDisk = job.variants_on_disk.includes(variant);
  const device = job.device ?? (job.engine ? library?.devices[job.engine] : undefined);
  replace(panel,
    h("header", {},
      h("h2", { title: job.prompt }, brief(job.prompt, job.mode)),
      h("button", { type: "button", class: "quiet close", title: "Close (Esc)", onclick: () => handlers.close() }, "✕")),
    h("p", { class: "meta" }, `Variant ${variant + 1} of ${job.variants}${seed === undefined ? "" : ` · seed ${seed}`} · ${job.mode} · ${job.model ?? job.engine ?? ""} · ${when(job.created_at)}`),
    onDisk
      ? h("a", { href: files.variant(job.job_id, variant), target: "_blank", rel: "noopener", class: "full", title: "Full size in a new tab" },
        h("img", { src: files.variant(job.job_id, variant), alt: `Variant ${variant + 1} at full size` }))
      : h("p", { class: "empty" }, "This variant's files were cleaned up; its recipe remains."),
    h("div", { class: "row decisions" }, button("star", pick.starred ? "★ Starred" : "☆ Star", pick.starred, "s"),
      button("pick", "✓ Pick", pick.verdict === "pick", "p"), button("reject", "✕ Reject", pick.verdict === "reject", "x")),
    h("label", { class: "field" }, h("span", {}, "Note"), note),
    h("button", { type: "button", id: "save-note", onclick: () => handlers.note(note.value) }, "Save note"),
    h("div", { class: "row files" },
      job.psd ? h("a", { class: "button", id: "download-psd", href: files.psd(job.job_id), download: `${job.job_id}.psd` }, "Download PSD") : null,
      onDisk ? h("a", { class: "button", href: files.variant(job.job_id, variant), download: `${job.job_id}-variant-${variant + 1}.png` }, "PNG") : null,
      copyButton(job.job_id)),
    h("dl", { class: "cost" },
      h("dt", {}, "Engine time"), h("dd", {}, seconds(job.engine_seconds)),
      h("dt", {}, "Device"), h("dd", {}, device ? `${job.engine} on ${device}` : job.engine ?? "–"),
      h("dt", {}, "Client"), h("dd", {}, `${job.client} (${job.source})`),
      job.set_id ? [h("dt", {}, "Set"), h("dd", {}, job.set_id)] : null),
    job.recipe ? rerunForm(job, library, handlers) : null,
    job.recipe ? h("details", { class: "recipe" }, h("summary", {}, "Recipe"), h("pre", {}, JSON.stringify(job.recipe, null, 2))) : null,
  );
}

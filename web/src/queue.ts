// The live queue: running, saving and waiting jobs from the agent's event stream, with cancel.
import { files } from "./api.js";
import { h, replace } from "./dom.js";
import { brief, percent } from "./format.js";
import type { LiveJob } from "./types.js";

export function stateLabel(job: LiveJob): string {
  if (job.state === "queued") return `waiting · #${job.position ?? "?"} in line`;
  if (job.state === "saving") return "writing files";
  if (job.steps === 0) return "starting";
  return `variant ${job.variant + 1} of ${job.variants} · step ${job.step} of ${job.steps}`;
}

export function renderQueue(root: HTMLElement, jobs: LiveJob[], cancel: (jobId: string) => void): void {
  if (jobs.length === 0) {
    replace(root, h("p", { class: "empty" }, "Nothing is running or waiting."));
    return;
  }
  replace(root, h("ol", { class: "queue" }, jobs.map((job) => h("li", { "data-job": job.job_id, "data-state": job.state },
    h("div", { class: "what" },
      h("b", {}, brief(job.prompt, job.mode)),
      h("span", { class: "meta" }, `${job.mode} · ${job.engine} · ${job.client}${job.set_id ? ` · set ${job.set_id}` : ""}`)),
    h("div", { class: "progress" },
      h("progress", { max: "1", value: String(job.fraction) }),
      h("span", { class: "label" }, `${stateLabel(job)} · ${percent(job.fraction)}`)),
    h("div", { class: "pictures" }, Object.entries(job.pictures).map(([variant, seq]) =>
      h("img", { src: files.live(job.job_id, Number(variant), seq), alt: `variant ${Number(variant) + 1} so far` }))),
    job.state === "saving" ? null : h("button", { type: "button", class: "cancel", onclick: () => cancel(job.job_id) }, "Cancel")))));
}

// The cost and library screens: plain tables of what the agent reports.
import { files } from "./api.js";
import { h, replace } from "./dom.js";
import { seconds } from "./format.js";
import type { Cost, CostReport, Library } from "./types.js";

function costRows(costs: Cost[], devices: Record<string, string>, extra?: (cost: Cost) => Node | null): HTMLElement {
  return h("table", { class: "cost-table" },
    h("thead", {}, h("tr", {}, ["", "engine", "device", "jobs", "variants", "engine time", "per variant", extra ? "" : null].filter((x) => x !== null).map((label) => h("th", {}, label)))),
    h("tbody", {}, costs.map((cost) => h("tr", { "data-key": cost.key },
      h("th", {}, cost.key), h("td", {}, cost.engine ?? "–"), h("td", {}, cost.engine ? devices[cost.engine] ?? "–" : "–"),
      h("td", { class: "number" }, String(cost.jobs)), h("td", { class: "number" }, String(cost.variants)),
      h("td", { class: "number" }, seconds(cost.engine_seconds)),
      h("td", { class: "number" }, seconds(cost.variants ? cost.engine_seconds / cost.variants : null)),
      extra ? h("td", {}, extra(cost)) : null))));
}

export function renderCost(root: HTMLElement, report: CostReport, library: Library | null): void {
  const devices = library?.devices ?? {};
  const total = report.days.reduce((sum, cost) => sum + cost.engine_seconds, 0);
  replace(root,
    h("p", { class: "lead" }, `Engine time over the last ${new Set(report.days.map((cost) => cost.key)).size} active days: ${seconds(total)}. `,
      "A job's time runs from its start on the engine until its files are written."),
    h("h3", {}, "Per day"),
    report.days.length ? costRows(report.days, devices) : h("p", { class: "empty" }, "No job has run yet."),
    h("h3", {}, "Per set"),
    report.sets.length
      ? costRows(report.sets, devices, (cost) => h("a", { class: "button", href: files.picksZip(cost.key), download: `${cost.key}-picks.zip` }, "Export picks"))
      : h("p", { class: "empty" }, "No sets yet: a set is one recipe over many targets (submit_set, a hot-folder set folder)."));
}

export function renderLibrary(root: HTMLElement, library: Library): void {
  const { capabilities, devices } = library;
  replace(root,
    h("h3", {}, "Engines and models"),
    capabilities.engines.map((engine) => h("section", { class: "engine" },
      h("h4", {}, `${engine.name}${engine.name === capabilities.default_engine ? " (default)" : ""} · ${devices[engine.name] ?? "?"}`),
      h("p", { class: "meta" }, engine.description),
      h("p", {}, `Modes: ${engine.modes.join(", ")}`),
      engine.model_details.length ? h("table", { class: "models" },
        h("thead", {}, h("tr", {}, ["model", "LoRAs", "ControlNets", "IP-Adapters", "derived controls"].map((label) => h("th", {}, label)))),
        h("tbody", {}, engine.model_details.map((model) => h("tr", {},
          h("th", { title: model.description }, model.name), h("td", {}, model.loras.join(", ") || "–"),
          h("td", {}, model.controlnets.map((c) => `${c.name} (${c.kind})`).join(", ") || "–"),
          h("td", {}, model.ip_adapters.join(", ") || "–"), h("td", {}, model.preprocessors.join(", ") || "–")))))
        : h("p", { class: "meta" }, "No models: this engine needs no weights."))),
    h("h3", {}, "Styles"),
    capabilities.styles.length ? h("ul", { class: "styles" }, capabilities.styles.map((style) => h("li", {},
      h("b", {}, style.name), style.model ? ` · ${style.model}` : "", style.description ? ` — ${style.description}` : "")))
      : h("p", { class: "empty" }, "No styles yet: `underpaint styles add` or `underpaint styles import` adds one."));
}

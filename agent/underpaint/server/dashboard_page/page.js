// Built by web/build.mjs from web/src: edit those, then run `node web/build.mjs`.
"use strict";
(() => {
  // web/src/filters.ts
  var NO_FILTERS = { text: "", mode: "", model: "", style: "", set: "", source: "", from: "", to: "", keep: "" };
  var DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
  function dayStart(day) {
    const match = DAY.exec(day);
    if (!match) return null;
    const [, year, month, date] = match.map(Number);
    const start = new Date(year, month - 1, date);
    return start.getMonth() === month - 1 ? start.getTime() / 1e3 : null;
  }
  function dayEnd(day) {
    const start = dayStart(day);
    if (start === null) return null;
    const next = new Date(start * 1e3);
    next.setDate(next.getDate() + 1);
    return next.getTime() / 1e3;
  }
  function galleryQuery(filters, before = null, limit = 24) {
    const query = new URLSearchParams();
    const plain = [
      ["q", filters.text.trim()],
      ["mode", filters.mode],
      ["model", filters.model],
      ["style", filters.style],
      ["set", filters.set],
      ["source", filters.source],
      ["keep", filters.keep]
    ];
    for (const [name, value] of plain) if (value) query.set(name, value);
    const since = dayStart(filters.from);
    const until = dayEnd(filters.to);
    if (since !== null) query.set("since", String(since));
    if (until !== null) query.set("until", String(until));
    if (before) query.set("before", before);
    query.set("limit", String(limit));
    return query.toString();
  }
  function filtersFromHash(search) {
    const query = new URLSearchParams(search);
    const keep = query.get("keep");
    return {
      text: query.get("q") ?? "",
      mode: query.get("mode") ?? "",
      model: query.get("model") ?? "",
      style: query.get("style") ?? "",
      set: query.get("set") ?? "",
      source: query.get("source") ?? "",
      from: query.get("from") ?? "",
      to: query.get("to") ?? "",
      keep: keep === "starred" || keep === "picked" || keep === "rejected" ? keep : ""
    };
  }
  function filtersToHash(filters) {
    const query = new URLSearchParams();
    const entries = [
      ["q", filters.text],
      ["mode", filters.mode],
      ["model", filters.model],
      ["style", filters.style],
      ["set", filters.set],
      ["source", filters.source],
      ["from", filters.from],
      ["to", filters.to],
      ["keep", filters.keep]
    ];
    for (const [name, value] of entries) if (value) query.set(name, value);
    return query.toString();
  }
  function activeFilters(filters) {
    return Object.values(filters).filter((value) => value !== "").length;
  }

  // web/src/api.ts
  var API = "/dashboard/api";
  var ApiError = class extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
    status;
    code;
  };
  async function call(path, init = {}) {
    const response = await fetch(API + path, { credentials: "same-origin", ...init });
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!response.ok) {
      const error = body ?? {};
      throw new ApiError(response.status, error.error ?? "http_error", error.message ?? `${response.status} ${response.statusText}`);
    }
    return body;
  }
  function post(path, body) {
    return call(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  }
  var job = (id) => `/jobs/${encodeURIComponent(id)}`;
  var api = {
    session: () => call("/session"),
    signIn: (token) => post("/session", { token }),
    signOut: () => post("/session/end", {}),
    page: (filters, before) => call(`/jobs?${galleryQuery(filters, before)}`),
    facets: () => call("/facets"),
    job: (id) => call(job(id)),
    recipeText: async (id) => (await fetch(`${API}${job(id)}/recipe`, { credentials: "same-origin" })).text(),
    setPick: (id, pick) => post(`${job(id)}/picks/${pick.variant}`, { starred: pick.starred, verdict: pick.verdict, note: pick.note }),
    cancel: (id) => post(`${job(id)}/cancel`, {}),
    rerun: (id, changes) => post(`${job(id)}/rerun`, changes),
    cost: () => call("/cost"),
    library: () => call("/library")
  };
  var files = {
    thumbnail: (id, variant) => `${API}${job(id)}/files/thumb-${variant + 1}.webp`,
    variant: (id, variant) => `${API}${job(id)}/files/variant-${variant + 1}.png`,
    source: (id) => `${API}${job(id)}/files/source.png`,
    psd: (id) => `${API}${job(id)}/files/result.psd`,
    live: (id, variant, seq) => `${API}${job(id)}/live/${variant}?seq=${seq}`,
    picksZip: (set) => `${API}/sets/${encodeURIComponent(set)}/picks.zip`,
    liveStream: () => `${API}/live`
  };

  // web/src/dom.ts
  function h(tag, attributes = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === null || value === void 0 || value === false) continue;
      if (typeof value === "function") element.addEventListener(name.replace(/^on/, ""), value);
      else if (value === true) element.setAttribute(name, "");
      else element.setAttribute(name, String(value));
    }
    append(element, children);
    return element;
  }
  function append(parent, children) {
    for (const child of children.flat()) {
      if (child === null || child === void 0 || child === false) continue;
      parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
  }
  function replace(parent, ...children) {
    parent.replaceChildren();
    append(parent, children);
  }
  function select(name, label, options, value, onChange, emptyLabel = "any") {
    const control = h(
      "select",
      { name, onchange: (event) => onChange(event.target.value) },
      h("option", { value: "" }, emptyLabel),
      options.map((option) => h("option", { value: option, selected: option === value }, option))
    );
    return h("label", { class: "field" }, h("span", {}, label), control);
  }
  var toastTimer;
  function toast(message, kind = "info") {
    const element = document.getElementById("toast");
    if (!element) return;
    element.textContent = message;
    element.dataset.kind = kind;
    element.hidden = false;
    window.clearTimeout(toastTimer);
    if (kind === "info") toastTimer = window.setTimeout(() => element.hidden = true, 4e3);
  }

  // web/src/format.ts
  function seconds(value) {
    if (value === null || value === void 0) return "\u2013";
    if (value < 60) return `${value.toFixed(value < 10 ? 2 : 1)} s`;
    const minutes = Math.floor(value / 60);
    if (minutes < 60) return `${minutes} min ${Math.round(value - minutes * 60)} s`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }
  function when(epochSeconds, now = /* @__PURE__ */ new Date()) {
    const date = new Date(epochSeconds * 1e3);
    const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (date.toDateString() === now.toDateString()) return `today ${time}`;
    return `${date.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" })} ${time}`;
  }
  function percent(fraction) {
    return `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)} %`;
  }
  function brief(prompt, mode) {
    const text = prompt.trim();
    return text || mode.charAt(0).toUpperCase() + mode.slice(1);
  }

  // web/src/recipe-diff.ts
  function flatten(value, prefix = "", into = /* @__PURE__ */ new Map()) {
    if (value !== null && typeof value === "object" && (Object.keys(value).length > 0 || prefix === "")) {
      for (const [key, child] of Object.entries(value)) {
        flatten(child, prefix ? `${prefix}.${key}` : key, into);
      }
    } else {
      into.set(prefix, JSON.stringify(value));
    }
    return into;
  }
  function diffRecipes(recipes) {
    const flat = recipes.map((recipe) => flatten(recipe));
    const paths = [];
    const seen = /* @__PURE__ */ new Set();
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
  function variantRecipe(recipe, variant) {
    const seeds = Array.isArray(recipe.seeds) ? recipe.seeds : [];
    const { seeds: _all, ...rest } = recipe;
    return { ...rest, variant: variant + 1, seed: seeds[variant] };
  }

  // web/src/compare.ts
  var letter = (index) => String.fromCharCode(65 + index);
  function layers(items) {
    const variants = items.map((item, index) => ({ label: `${letter(index)}: variant ${item.ref.variant + 1}`, src: files.variant(item.job.job_id, item.ref.variant) }));
    const sources = items[0].job.mode === "generate" ? [] : [{ label: `source of ${letter(0)}`, src: files.source(items[0].job.job_id) }];
    return [...variants, ...sources];
  }
  function slider(items) {
    const choices = layers(items);
    let top = choices[0];
    let bottom = choices[choices.length - 1] === top ? choices[0] : choices[choices.length - 1];
    const topImage = h("img", { class: "top", alt: "", src: top.src });
    const bottomImage = h("img", { class: "bottom", alt: "", src: bottom.src });
    const frame = h("div", { class: "ab-frame" }, bottomImage, topImage, h("div", { class: "ab-line" }));
    frame.style.setProperty("--split", "50%");
    const range = h("input", {
      type: "range",
      min: "0",
      max: "100",
      value: "50",
      id: "ab-range",
      "aria-label": "A/B split",
      oninput: (event) => frame.style.setProperty("--split", `${event.target.value}%`)
    });
    const picker = (name, current, onPick) => h("select", {
      name,
      onchange: (event) => onPick(choices[Number(event.target.value)])
    }, choices.map((choice, index) => h("option", { value: index, selected: choice === current }, choice.label)));
    return h(
      "section",
      { class: "ab" },
      h(
        "div",
        { class: "row" },
        h("label", { class: "field" }, h("span", {}, "Left"), picker("ab-left", top, (layer) => {
          top = layer;
          topImage.src = layer.src;
        })),
        h("label", { class: "field grow" }, h("span", {}, "Split"), range),
        h("label", { class: "field" }, h("span", {}, "Right"), picker("ab-right", bottom, (layer) => {
          bottom = layer;
          bottomImage.src = layer.src;
        }))
      ),
      frame
    );
  }
  function diffTable(items) {
    const recipes = items.map((item) => variantRecipe(item.job.recipe ?? {}, item.ref.variant));
    const rows = diffRecipes(recipes);
    const onlyDifferences = h("input", { type: "checkbox", checked: true, onchange: (event) => table.classList.toggle("all", !event.target.checked) });
    const table = h(
      "table",
      { class: "diff" },
      h("thead", {}, h("tr", {}, h("th", {}, "field"), items.map((_, index) => h("th", {}, letter(index))))),
      h("tbody", {}, rows.map((row) => h(
        "tr",
        { class: row.differs ? "differs" : "same", "data-path": row.path },
        h("th", {}, row.path),
        row.values.map((value) => h("td", {}, value ?? "\u2014"))
      )))
    );
    const differing = rows.filter((row) => row.differs).length;
    return h(
      "section",
      { class: "recipes" },
      h(
        "div",
        { class: "row" },
        h("h3", {}, `Recipes: ${differing} field${differing === 1 ? "" : "s"} differ`),
        h("label", { class: "check" }, onlyDifferences, "only differences")
      ),
      table
    );
  }
  function renderCompare(root2, items, close) {
    replace(
      root2,
      h("header", {}, h("h2", {}, `Compare ${items.length} variants`), h("button", { type: "button", class: "quiet close", title: "Close (Esc)", onclick: close }, "\u2715")),
      slider(items),
      sideBySide(items),
      diffTable(items)
    );
  }
  function sideBySide(items) {
    const grid = h("div", { class: "side-by-side" }, items.map((item, index) => h(
      "figure",
      {},
      h(
        "a",
        { href: files.variant(item.job.job_id, item.ref.variant), target: "_blank", rel: "noopener" },
        h("img", { src: files.variant(item.job.job_id, item.ref.variant), alt: `${letter(index)}` })
      ),
      h("figcaption", {}, h("b", {}, letter(index)), ` ${brief(item.job.prompt, item.job.mode)} \xB7 seed ${item.job.seeds[item.ref.variant] ?? "?"}`)
    )));
    grid.style.setProperty("--columns", String(items.length));
    return grid;
  }

  // web/src/picks.ts
  function decide(pick, decision) {
    if (decision === "star") return { ...pick, starred: !pick.starred };
    const verdict = decision === "pick" ? "pick" : "reject";
    return { ...pick, verdict: pick.verdict === verdict ? null : verdict };
  }
  function pickOf(picks, variant) {
    return picks.find((pick) => pick.variant === variant) ?? { variant, starred: false, verdict: null, note: "" };
  }
  var MAX_COMPARED = 4;
  function sameVariant(a, b) {
    return a.jobId === b.jobId && a.variant === b.variant;
  }
  function toggleCompared(compared, ref) {
    if (compared.some((other) => sameVariant(other, ref))) return compared.filter((other) => !sameVariant(other, ref));
    return [...compared, ref].slice(-MAX_COMPARED);
  }

  // web/src/rerun.ts
  function rerunDefaults(params) {
    return { prompt: params.prompt ?? "", seed: String(params.seed ?? 0), style: "", strength: String(params.strength ?? 1) };
  }
  function rerunChanges(params, fields) {
    const changes = {};
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
  function freshSeed(params, variants) {
    return ((params.seed ?? 0) + Math.max(1, variants)) % 2 ** 32;
  }

  // web/src/detail.ts
  function copyButton(jobId) {
    return h("button", {
      type: "button",
      id: "copy-recipe",
      onclick: async () => {
        const text = await api.recipeText(jobId);
        try {
          await navigator.clipboard.writeText(text);
          toast("Recipe copied as JSON.");
        } catch {
          toast("The browser did not allow copying; select the recipe below and copy it.", "error");
        }
      }
    }, "Copy recipe JSON");
  }
  function rerunForm(job2, library, handlers2) {
    const params = job2.recipe?.params ?? {};
    const values = rerunDefaults(params);
    const field = (name, label, control) => h("label", { class: "field" }, h("span", {}, label), control);
    const input = (name, attributes) => h("input", {
      name,
      value: values[name],
      ...attributes,
      oninput: (event) => values[name] = event.target.value
    });
    const seed = input("seed", { type: "number", min: "0", step: "1" });
    const styles = library?.capabilities.styles.map((style) => style.name) ?? [];
    return h(
      "form",
      {
        class: "rerun",
        id: "rerun",
        onsubmit: (event) => {
          event.preventDefault();
          const outcome = rerunChanges(params, values);
          if ("problem" in outcome) toast(outcome.problem, "error");
          else handlers2.rerun(outcome.changes);
        }
      },
      h("h4", {}, "Re-run as a new job"),
      field("prompt", "Prompt", h("textarea", { name: "prompt", rows: 2, oninput: (event) => values.prompt = event.target.value }, values.prompt)),
      h(
        "div",
        { class: "row" },
        field("seed", "Seed", seed),
        h("button", { type: "button", class: "quiet", title: "A seed none of these variants used", onclick: () => {
          values.seed = String(freshSeed(params, job2.variants));
          seed.value = values.seed;
        } }, "New seed"),
        field("strength", "Strength", input("strength", { type: "number", min: "0", max: "1", step: "0.05" }))
      ),
      field("style", "Style", h(
        "select",
        { name: "style", onchange: (event) => values.style = event.target.value },
        h("option", { value: "" }, job2.style ? `as recipe (${job2.style})` : "as recipe"),
        styles.map((name) => h("option", { value: name }, name))
      )),
      h("button", { type: "submit", class: "primary" }, "Re-run")
    );
  }
  function renderDetail(panel, job2, variant, library, handlers2) {
    const pick = pickOf(job2.picks, variant);
    const seed = job2.seeds[variant];
    const button = (decision, label, pressed, key) => h("button", {
      type: "button",
      class: `decide ${decision}`,
      "data-decision": decision,
      "aria-pressed": String(pressed),
      title: `${label} (${key})`,
      onclick: () => handlers2.decide(decision)
    }, label);
    const note = h("textarea", { name: "note", rows: 2, placeholder: "Why this one (or not)\u2026" }, pick.note);
    const onDisk = job2.variants_on_disk.includes(variant);
    const device = job2.device ?? (job2.engine ? library?.devices[job2.engine] : void 0);
    replace(
      panel,
      h(
        "header",
        {},
        h("h2", { title: job2.prompt }, brief(job2.prompt, job2.mode)),
        h("button", { type: "button", class: "quiet close", title: "Close (Esc)", onclick: () => handlers2.close() }, "\u2715")
      ),
      h("p", { class: "meta" }, `Variant ${variant + 1} of ${job2.variants}${seed === void 0 ? "" : ` \xB7 seed ${seed}`} \xB7 ${job2.mode} \xB7 ${job2.model ?? job2.engine ?? ""} \xB7 ${when(job2.created_at)}`),
      onDisk ? h(
        "a",
        { href: files.variant(job2.job_id, variant), target: "_blank", rel: "noopener", class: "full", title: "Full size in a new tab" },
        h("img", { src: files.variant(job2.job_id, variant), alt: `Variant ${variant + 1} at full size` })
      ) : h("p", { class: "empty" }, "This variant's files were cleaned up; its recipe remains."),
      h(
        "div",
        { class: "row decisions" },
        button("star", pick.starred ? "\u2605 Starred" : "\u2606 Star", pick.starred, "s"),
        button("pick", "\u2713 Pick", pick.verdict === "pick", "p"),
        button("reject", "\u2715 Reject", pick.verdict === "reject", "x")
      ),
      h("label", { class: "field" }, h("span", {}, "Note"), note),
      h("button", { type: "button", id: "save-note", onclick: () => handlers2.note(note.value) }, "Save note"),
      h(
        "div",
        { class: "row files" },
        job2.psd ? h("a", { class: "button", id: "download-psd", href: files.psd(job2.job_id), download: `${job2.job_id}.psd` }, "Download PSD") : null,
        onDisk ? h("a", { class: "button", href: files.variant(job2.job_id, variant), download: `${job2.job_id}-variant-${variant + 1}.png` }, "PNG") : null,
        copyButton(job2.job_id)
      ),
      h(
        "dl",
        { class: "cost" },
        h("dt", {}, "Engine time"),
        h("dd", {}, seconds(job2.engine_seconds)),
        h("dt", {}, "Device"),
        h("dd", {}, device ? `${job2.engine} on ${device}` : job2.engine ?? "\u2013"),
        h("dt", {}, "Client"),
        h("dd", {}, `${job2.client} (${job2.source})`),
        job2.set_id ? [h("dt", {}, "Set"), h("dd", {}, job2.set_id)] : null
      ),
      job2.recipe ? rerunForm(job2, library, handlers2) : null,
      job2.recipe ? h("details", { class: "recipe" }, h("summary", {}, "Recipe"), h("pre", {}, JSON.stringify(job2.recipe, null, 2))) : null
    );
  }

  // web/src/gallery.ts
  function variantsOf(jobs) {
    return jobs.flatMap((job2) => job2.state === "done" ? Array.from({ length: job2.variants }, (_, variant) => ({ jobId: job2.job_id, variant })) : []);
  }
  function rowStep(jobs, current, delta) {
    const done = jobs.filter((job2) => job2.state === "done");
    if (done.length === 0) return null;
    const index = current ? done.findIndex((job2) => job2.job_id === current.jobId) : -1;
    if (index < 0) return { jobId: done[0].job_id, variant: 0 };
    const target = done[Math.min(done.length - 1, Math.max(0, index + delta))];
    return { jobId: target.job_id, variant: Math.min(current.variant, target.variants - 1) };
  }
  function filterBar(filters, facets, handlers2) {
    const set = (change) => handlers2.filter({ ...filters, ...change });
    let typing;
    const text = h("input", {
      type: "search",
      name: "q",
      placeholder: "Prompt contains\u2026",
      value: filters.text,
      "aria-label": "Prompt contains",
      oninput: (event) => {
        window.clearTimeout(typing);
        const value = event.target.value;
        typing = window.setTimeout(() => set({ text: value }), 250);
      }
    });
    const day = (name, label) => h(
      "label",
      { class: "field" },
      h("span", {}, label),
      h("input", { type: "date", name, value: filters[name], onchange: (event) => set({ [name]: event.target.value }) })
    );
    return h(
      "form",
      { class: "filters", onsubmit: (event) => event.preventDefault() },
      h("label", { class: "field grow" }, h("span", {}, "Search"), text),
      select("mode", "Mode", facets.modes, filters.mode, (mode) => set({ mode })),
      select("model", "Model", facets.models, filters.model, (model) => set({ model })),
      select("style", "Style", facets.styles, filters.style, (style) => set({ style })),
      select("set", "Set", facets.sets, filters.set, (value) => set({ set: value })),
      select("source", "From", facets.sources, filters.source, (source) => set({ source })),
      day("from", "Since"),
      day("to", "Until"),
      select("keep", "Kept", ["starred", "picked", "rejected"], filters.keep, (keep) => set({ keep }), "all"),
      activeFilters(filters) ? h("button", { type: "button", class: "quiet", onclick: () => handlers2.filter(NO_FILTERS) }, "Clear") : null
    );
  }
  function tile(job2, variant, handlers2) {
    const ref = { jobId: job2.job_id, variant };
    const seed = job2.seeds[variant];
    return h(
      "button",
      {
        type: "button",
        class: "tile",
        "data-job": job2.job_id,
        "data-variant": variant,
        title: `Variant ${variant + 1}${seed === void 0 ? "" : ` \xB7 seed ${seed}`} (click: select, shift-click: compare, double-click: open)`,
        onclick: (event) => handlers2.select(ref, event.shiftKey),
        ondblclick: () => handlers2.open(ref)
      },
      h("img", { src: files.thumbnail(job2.job_id, variant), alt: `${brief(job2.prompt, job2.mode)}, variant ${variant + 1}`, loading: "lazy", decoding: "async" }),
      h("span", { class: "badges" }, h("span", { class: "badge star" }, "\u2605"), h("span", { class: "badge verdict" })),
      h("span", { class: "seed" }, seed === void 0 ? `#${variant + 1}` : `seed ${seed}`)
    );
  }
  function card(job2, handlers2) {
    const meta = [
      job2.mode,
      job2.model ?? job2.engine,
      job2.style && `style ${job2.style}`,
      job2.set_id && `set ${job2.set_id}`,
      job2.source,
      job2.engine_seconds !== null && seconds(job2.engine_seconds),
      when(job2.created_at)
    ].filter(Boolean).join(" \xB7 ");
    const body = job2.state === "done" ? h("div", { class: "tiles" }, Array.from({ length: job2.variants }, (_, variant) => tile(job2, variant, handlers2))) : h("p", { class: `ended ${job2.state}` }, job2.state === "cancelled" ? "Cancelled." : `${job2.error_code ?? "error"}: ${job2.error_message ?? ""}`);
    return h(
      "article",
      { class: "card", "data-job": job2.job_id, "data-state": job2.state },
      h("header", {}, h("h3", { title: job2.prompt }, brief(job2.prompt, job2.mode)), h("p", { class: "meta" }, meta)),
      body
    );
  }
  function markTiles(root2, jobs, selected, compared) {
    const byId = new Map(jobs.map((job2) => [job2.job_id, job2]));
    for (const element of root2.querySelectorAll(".tile")) {
      const job2 = byId.get(element.dataset.job ?? "");
      if (!job2) continue;
      const ref = { jobId: job2.job_id, variant: Number(element.dataset.variant) };
      const pick = pickOf(job2.picks, ref.variant);
      element.classList.toggle("starred", pick.starred);
      element.dataset.verdict = pick.verdict ?? "";
      element.querySelector(".verdict").textContent = pick.verdict === "pick" ? "\u2713 pick" : pick.verdict === "reject" ? "\u2715 reject" : "";
      element.classList.toggle("noted", pick.note !== "");
      const isSelected = selected !== null && sameVariant(selected, ref);
      element.classList.toggle("selected", isSelected);
      element.setAttribute("aria-pressed", String(isSelected));
      const place = compared.findIndex((other) => sameVariant(other, ref));
      element.classList.toggle("compared", place >= 0);
      element.dataset.compare = place >= 0 ? String.fromCharCode(65 + place) : "";
    }
  }
  function renderGallery(root2, jobs, next, handlers2) {
    const grid = h("div", { class: "grid" }, jobs.map((job2) => card(job2, handlers2)));
    replace(
      root2,
      jobs.length ? grid : h("p", { class: "empty" }, "No jobs match. Submit one from a plugin, the hot folder or the CLI, or clear the filters."),
      next ? h("button", { type: "button", class: "more", onclick: () => handlers2.more() }, "Load more") : null
    );
  }
  function appendCards(root2, jobs, next, handlers2) {
    const grid = root2.querySelector(".grid");
    root2.querySelector(".more")?.remove();
    for (const job2 of jobs) grid?.appendChild(card(job2, handlers2));
    if (next) root2.appendChild(h("button", { type: "button", class: "more", onclick: () => handlers2.more() }, "Load more"));
  }

  // web/src/keys.ts
  var KEYS = {
    ArrowRight: "next",
    l: "next",
    ArrowLeft: "previous",
    h: "previous",
    ArrowDown: "nextRow",
    j: "nextRow",
    ArrowUp: "previousRow",
    k: "previousRow",
    p: "pick",
    x: "reject",
    s: "star",
    c: "compare",
    Enter: "open",
    Escape: "close",
    "?": "help"
  };
  var SHORTCUTS = [
    ["\u2190 \u2192 or h l", "previous / next variant"],
    ["\u2191 \u2193 or k j", "previous / next job"],
    ["p", "pick (again: undo)"],
    ["x", "reject (again: undo)"],
    ["s", "star"],
    ["c", "add to / remove from the comparison"],
    ["Enter", "open the variant"],
    ["Esc", "close"]
  ];
  function actionFor(press) {
    if (press.ctrlKey || press.metaKey || press.altKey) return null;
    const tag = (press.targetTag ?? "").toUpperCase();
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return press.key === "Escape" ? "close" : null;
    return KEYS[press.key] ?? null;
  }
  function step(count, current, delta) {
    if (count === 0) return -1;
    if (current < 0) return 0;
    return Math.min(count - 1, Math.max(0, current + delta));
  }

  // web/src/queue.ts
  function stateLabel(job2) {
    if (job2.state === "queued") return `waiting \xB7 #${job2.position ?? "?"} in line`;
    if (job2.state === "saving") return "writing files";
    if (job2.steps === 0) return "starting";
    return `variant ${job2.variant + 1} of ${job2.variants} \xB7 step ${job2.step} of ${job2.steps}`;
  }
  function renderQueue(root2, jobs, cancel2) {
    if (jobs.length === 0) {
      replace(root2, h("p", { class: "empty" }, "Nothing is running or waiting."));
      return;
    }
    replace(root2, h("ol", { class: "queue" }, jobs.map((job2) => h(
      "li",
      { "data-job": job2.job_id, "data-state": job2.state },
      h(
        "div",
        { class: "what" },
        h("b", {}, brief(job2.prompt, job2.mode)),
        h("span", { class: "meta" }, `${job2.mode} \xB7 ${job2.engine} \xB7 ${job2.client}${job2.set_id ? ` \xB7 set ${job2.set_id}` : ""}`)
      ),
      h(
        "div",
        { class: "progress" },
        h("progress", { max: "1", value: String(job2.fraction) }),
        h("span", { class: "label" }, `${stateLabel(job2)} \xB7 ${percent(job2.fraction)}`)
      ),
      h("div", { class: "pictures" }, Object.entries(job2.pictures).map(([variant, seq]) => h("img", { src: files.live(job2.job_id, Number(variant), seq), alt: `variant ${Number(variant) + 1} so far` }))),
      job2.state === "saving" ? null : h("button", { type: "button", class: "cancel", onclick: () => cancel2(job2.job_id) }, "Cancel")
    ))));
  }

  // web/src/tables.ts
  function costRows(costs, devices, extra) {
    return h(
      "table",
      { class: "cost-table" },
      h("thead", {}, h("tr", {}, ["", "engine", "device", "jobs", "variants", "engine time", "per variant", extra ? "" : null].filter((x) => x !== null).map((label) => h("th", {}, label)))),
      h("tbody", {}, costs.map((cost) => h(
        "tr",
        { "data-key": cost.key },
        h("th", {}, cost.key),
        h("td", {}, cost.engine ?? "\u2013"),
        h("td", {}, cost.engine ? devices[cost.engine] ?? "\u2013" : "\u2013"),
        h("td", { class: "number" }, String(cost.jobs)),
        h("td", { class: "number" }, String(cost.variants)),
        h("td", { class: "number" }, seconds(cost.engine_seconds)),
        h("td", { class: "number" }, seconds(cost.variants ? cost.engine_seconds / cost.variants : null)),
        extra ? h("td", {}, extra(cost)) : null
      )))
    );
  }
  function renderCost(root2, report, library) {
    const devices = library?.devices ?? {};
    const total = report.days.reduce((sum, cost) => sum + cost.engine_seconds, 0);
    replace(
      root2,
      h(
        "p",
        { class: "lead" },
        `Engine time over the last ${new Set(report.days.map((cost) => cost.key)).size} active days: ${seconds(total)}. `,
        "A job's time runs from its start on the engine until its files are written."
      ),
      h("h3", {}, "Per day"),
      report.days.length ? costRows(report.days, devices) : h("p", { class: "empty" }, "No job has run yet."),
      h("h3", {}, "Per set"),
      report.sets.length ? costRows(report.sets, devices, (cost) => h("a", { class: "button", href: files.picksZip(cost.key), download: `${cost.key}-picks.zip` }, "Export picks")) : h("p", { class: "empty" }, "No sets yet: a set is one recipe over many targets (submit_set, a hot-folder set folder).")
    );
  }
  function renderLibrary(root2, library) {
    const { capabilities, devices } = library;
    replace(
      root2,
      h("h3", {}, "Engines and models"),
      capabilities.engines.map((engine) => h(
        "section",
        { class: "engine" },
        h("h4", {}, `${engine.name}${engine.name === capabilities.default_engine ? " (default)" : ""} \xB7 ${devices[engine.name] ?? "?"}`),
        h("p", { class: "meta" }, engine.description),
        h("p", {}, `Modes: ${engine.modes.join(", ")}`),
        engine.model_details.length ? h(
          "table",
          { class: "models" },
          h("thead", {}, h("tr", {}, ["model", "LoRAs", "ControlNets", "IP-Adapters", "derived controls"].map((label) => h("th", {}, label)))),
          h("tbody", {}, engine.model_details.map((model) => h(
            "tr",
            {},
            h("th", { title: model.description }, model.name),
            h("td", {}, model.loras.join(", ") || "\u2013"),
            h("td", {}, model.controlnets.map((c) => `${c.name} (${c.kind})`).join(", ") || "\u2013"),
            h("td", {}, model.ip_adapters.join(", ") || "\u2013"),
            h("td", {}, model.preprocessors.join(", ") || "\u2013")
          )))
        ) : h("p", { class: "meta" }, "No models: this engine needs no weights.")
      )),
      h("h3", {}, "Styles"),
      capabilities.styles.length ? h("ul", { class: "styles" }, capabilities.styles.map((style) => h(
        "li",
        {},
        h("b", {}, style.name),
        style.model ? ` \xB7 ${style.model}` : "",
        style.description ? ` \u2014 ${style.description}` : ""
      ))) : h("p", { class: "empty" }, "No styles yet: `underpaint styles add` or `underpaint styles import` adds one.")
    );
  }

  // web/src/main.ts
  var VIEWS = [["gallery", "Gallery"], ["queue", "Queue"], ["cost", "Cost"], ["library", "Models & styles"]];
  var state = {
    view: "gallery",
    filters: NO_FILTERS,
    jobs: [],
    next: null,
    facets: { modes: [], models: [], styles: [], sources: [], sets: [] },
    library: null,
    selected: null,
    compared: [],
    opened: null,
    live: [],
    stream: null,
    loading: 0
  };
  var root = document.getElementById("app");
  var el = (id) => document.getElementById(id);
  function failed(error) {
    if (error instanceof ApiError && error.status === 401) {
      showSignIn("Your sign-in has ended; sign in again.");
      return;
    }
    toast(error instanceof Error ? error.message : String(error), "error");
  }
  function showSignIn(message = "") {
    state.stream?.close();
    state.stream = null;
    const token = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", placeholder: "Pairing token", "aria-label": "Pairing token" });
    const error = h("p", { id: "signin-error", class: "error", role: "alert" }, message);
    replace(root, h("main", { class: "signin" }, h(
      "form",
      {
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            await api.signIn(token.value);
            await showApp();
          } catch (caught) {
            error.textContent = caught instanceof Error ? caught.message : String(caught);
            token.select();
          }
        }
      },
      h("h1", {}, "Underpaint"),
      h("p", {}, "Paste the pairing token: ", h("code", {}, "underpaint token"), " prints it. It stays in this browser as a cookie no script can read."),
      token,
      h("button", { type: "submit", class: "primary", id: "sign-in" }, "Sign in"),
      error
    )));
    token.focus();
  }
  async function showApp() {
    replace(
      root,
      h(
        "header",
        { class: "top" },
        h("b", { class: "brand" }, "Underpaint"),
        h("nav", {}, VIEWS.map(([view, label]) => h("a", { href: `#/${view}`, "data-view": view }, label, view === "queue" ? h("span", { id: "queue-count", class: "count" }) : null))),
        h("button", { type: "button", class: "quiet", title: "Keyboard shortcuts (?)", onclick: () => toggleHelp() }, "?"),
        h("button", { type: "button", class: "quiet", id: "sign-out", onclick: async () => {
          await api.signOut();
          showSignIn();
        } }, "Sign out")
      ),
      h(
        "div",
        { class: "body" },
        h(
          "main",
          {},
          h("section", { id: "view-gallery", "data-view": "gallery" }, h("div", { id: "filters" }), h("div", { id: "gallery" })),
          h("section", { id: "view-queue", "data-view": "queue" }, h("h2", {}, "Queue"), h("div", { id: "queue" })),
          h("section", { id: "view-cost", "data-view": "cost" }, h("h2", {}, "Cost"), h("div", { id: "cost" })),
          h("section", { id: "view-library", "data-view": "library" }, h("h2", {}, "Models & styles"), h("div", { id: "library" }))
        ),
        h("aside", { id: "detail", hidden: true })
      ),
      h("div", { id: "compare-bar", hidden: true }),
      h("div", { id: "compare", class: "overlay", hidden: true, role: "dialog", "aria-label": "Compare variants" }),
      h(
        "div",
        { id: "help", class: "overlay small", hidden: true, role: "dialog", "aria-label": "Keyboard shortcuts" },
        h("h2", {}, "Keyboard shortcuts"),
        h("dl", {}, SHORTCUTS.flatMap(([keys, what]) => [h("dt", {}, keys), h("dd", {}, what)]))
      ),
      h("div", { id: "toast", role: "status", hidden: true })
    );
    startLive();
    await Promise.all([loadFacets(), api.library().then((library) => state.library = library).catch(failed)]);
    await route();
  }
  async function route() {
    const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
    const view = VIEWS.find(([name]) => name === path)?.[0] ?? "gallery";
    state.view = view;
    for (const section of document.querySelectorAll("main > section")) section.hidden = section.dataset.view !== view;
    for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.view === view);
    if (view === "gallery") {
      state.filters = filtersFromHash(search);
      renderFilters();
      await loadGallery();
    } else if (view === "queue") {
      renderQueue(el("queue"), state.live, cancel);
    } else if (view === "cost") {
      renderCost(el("cost"), await api.cost(), state.library);
    } else if (state.library) {
      renderLibrary(el("library"), state.library);
    }
  }
  var handlers = {
    filter: (filters) => {
      const query = filtersToHash(filters);
      history.replaceState(null, "", `#/gallery${query ? `?${query}` : ""}`);
      state.filters = filters;
      renderFilters();
      void loadGallery();
    },
    more: () => void loadMore(),
    select: (ref, addToComparison) => {
      state.selected = ref;
      if (addToComparison) state.compared = toggleCompared(state.compared, ref);
      refreshMarks();
      if (state.opened) void openDetail(ref);
    },
    open: (ref) => {
      state.selected = ref;
      refreshMarks();
      void openDetail(ref);
    }
  };
  async function loadFacets() {
    try {
      state.facets = await api.facets();
    } catch (error) {
      failed(error);
    }
  }
  function renderFilters() {
    replace(el("filters"), filterBar(state.filters, state.facets, handlers));
  }
  async function loadGallery() {
    const ticket = ++state.loading;
    try {
      const page = await api.page(state.filters, null);
      if (ticket !== state.loading) return;
      state.jobs = page.jobs;
      state.next = page.next;
      renderGallery(el("gallery"), state.jobs, state.next, handlers);
      refreshMarks();
    } catch (error) {
      failed(error);
    }
  }
  async function loadMore() {
    if (!state.next) return;
    try {
      const page = await api.page(state.filters, state.next);
      state.jobs = [...state.jobs, ...page.jobs];
      state.next = page.next;
      appendCards(el("gallery"), page.jobs, page.next, handlers);
      refreshMarks();
    } catch (error) {
      failed(error);
    }
  }
  async function addEnded() {
    await loadFacets();
    if (state.view === "gallery") renderFilters();
    const page = await api.page(state.filters, null);
    const known = new Set(state.jobs.map((job2) => job2.job_id));
    const fresh = page.jobs.filter((job2) => !known.has(job2.job_id));
    if (fresh.length === 0) return;
    state.jobs = [...fresh, ...state.jobs];
    if (state.next === null && state.jobs.length === fresh.length) state.next = page.next;
    renderGallery(el("gallery"), state.jobs, state.next, handlers);
    refreshMarks();
  }
  function refreshMarks() {
    markTiles(el("gallery"), state.jobs, state.selected, state.compared);
    const bar = el("compare-bar");
    bar.hidden = state.compared.length === 0;
    replace(
      bar,
      h("span", {}, `${state.compared.length} of up to 4 to compare`),
      h("button", { type: "button", class: "primary", id: "compare-open", disabled: state.compared.length < 2, onclick: () => void openCompare() }, "Compare"),
      h("button", { type: "button", class: "quiet", onclick: () => {
        state.compared = [];
        refreshMarks();
      } }, "Clear")
    );
  }
  function jobOf(ref) {
    return state.jobs.find((job2) => job2.job_id === ref.jobId);
  }
  async function savePick(ref, change) {
    const job2 = jobOf(ref);
    if (!job2) return;
    try {
      const updated = await api.setPick(ref.jobId, change(pickOf(job2.picks, ref.variant)));
      state.jobs = state.jobs.map((other) => other.job_id === updated.job_id ? updated : other);
      refreshMarks();
      if (state.opened && sameVariant(state.opened, ref)) await openDetail(ref);
    } catch (error) {
      failed(error);
    }
  }
  async function openDetail(ref) {
    state.opened = ref;
    const panel = el("detail");
    try {
      const job2 = await api.job(ref.jobId);
      renderDetail(panel, job2, ref.variant, state.library, {
        decide: (decision) => void savePick(ref, (pick) => decide(pick, decision)),
        note: (note) => void savePick(ref, (pick) => ({ ...pick, note })).then(() => toast("Note saved.")),
        close: closeDetail,
        rerun: async (changes) => {
          try {
            const queued = await api.rerun(ref.jobId, changes);
            toast(`Queued ${queued.job_id}; it appears in the queue, then here.`);
          } catch (error) {
            failed(error);
          }
        }
      });
      panel.hidden = false;
    } catch (error) {
      failed(error);
    }
  }
  function closeDetail() {
    state.opened = null;
    el("detail").hidden = true;
  }
  async function openCompare() {
    try {
      const ids = [...new Set(state.compared.map((ref) => ref.jobId))];
      const jobs = new Map((await Promise.all(ids.map((id) => api.job(id)))).map((job2) => [job2.job_id, job2]));
      const items = state.compared.map((ref) => ({ ref, job: jobs.get(ref.jobId) }));
      const overlay = el("compare");
      renderCompare(overlay, items, () => overlay.hidden = true);
      overlay.hidden = false;
    } catch (error) {
      failed(error);
    }
  }
  function toggleHelp() {
    const help = el("help");
    help.hidden = !help.hidden;
  }
  function act(action) {
    const compare = el("compare");
    if (action === "close") {
      if (!compare.hidden) compare.hidden = true;
      else if (!el("help").hidden) toggleHelp();
      else closeDetail();
      return;
    }
    if (action === "help") return toggleHelp();
    if (state.view !== "gallery" || !compare.hidden) return;
    const variants = variantsOf(state.jobs);
    const current = state.selected ? variants.findIndex((ref) => sameVariant(ref, state.selected)) : -1;
    if (action === "next" || action === "previous") {
      state.selected = variants[step(variants.length, current, action === "next" ? 1 : -1)] ?? null;
    } else if (action === "nextRow" || action === "previousRow") {
      state.selected = rowStep(state.jobs, state.selected, action === "nextRow" ? 1 : -1);
    } else if (state.selected && (action === "pick" || action === "reject" || action === "star")) {
      void savePick(state.selected, (pick) => decide(pick, action));
      return;
    } else if (state.selected && action === "compare") {
      state.compared = toggleCompared(state.compared, state.selected);
    } else if (state.selected && action === "open") {
      void openDetail(state.selected);
    }
    refreshMarks();
    if (state.selected) {
      const tile2 = document.querySelector(`.tile[data-job="${CSS.escape(state.selected.jobId)}"][data-variant="${state.selected.variant}"]`);
      tile2?.scrollIntoView({ block: "nearest" });
      tile2?.focus({ preventScroll: true });
      if (state.opened && !sameVariant(state.opened, state.selected)) void openDetail(state.selected);
    }
  }
  document.addEventListener("keydown", (event) => {
    const action = actionFor({ key: event.key, ctrlKey: event.ctrlKey, metaKey: event.metaKey, altKey: event.altKey, targetTag: event.target?.tagName });
    if (action === null || !document.getElementById("gallery")) return;
    event.preventDefault();
    act(action);
  });
  function startLive() {
    state.stream?.close();
    const stream = new EventSource(files.liveStream());
    state.stream = stream;
    stream.addEventListener("queue", (event) => {
      state.live = JSON.parse(event.data);
      const count = document.getElementById("queue-count");
      if (count) count.textContent = state.live.length ? String(state.live.length) : "";
      if (state.view === "queue") renderQueue(el("queue"), state.live, cancel);
    });
    stream.addEventListener("ended", () => void addEnded().catch(failed));
    stream.onerror = () => {
      void api.session().then((session) => {
        if (!session.signed_in) showSignIn("Your sign-in has ended; sign in again.");
      }).catch(() => void 0);
    };
  }
  async function cancel(jobId) {
    try {
      await api.cancel(jobId);
      toast(`Cancelling ${jobId}.`);
    } catch (error) {
      failed(error);
    }
  }
  window.addEventListener("hashchange", () => void route().catch(failed));
  void api.session().then((session) => session.signed_in ? showApp() : showSignIn()).catch(failed);
})();

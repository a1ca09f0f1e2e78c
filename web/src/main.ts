// The agent's page: sign-in, then the gallery, the live queue, cost and the library, wired to the agent.
import { api, ApiError, files } from "./api.js";
import { renderCompare, type Compared } from "./compare.js";
import { renderDetail } from "./detail.js";
import { h, replace, toast } from "./dom.js";
import { filtersFromHash, filtersToHash, NO_FILTERS, type Filters } from "./filters.js";
import { appendCards, filterBar, markTiles, renderGallery, rowStep, variantsOf, type GalleryHandlers } from "./gallery.js";
import { actionFor, SHORTCUTS, step, type Action } from "./keys.js";
import { decide, pickOf, sameVariant, toggleCompared, type Decision } from "./picks.js";
import { renderQueue } from "./queue.js";
import { renderCost, renderLibrary } from "./tables.js";
import type { Facets, GalleryJob, Library, LiveJob, Pick, VariantRef } from "./types.js";

type View = "gallery" | "queue" | "cost" | "library";
const VIEWS: [View, string][] = [["gallery", "Gallery"], ["queue", "Queue"], ["cost", "Cost"], ["library", "Models & styles"]];

const state = {
  view: "gallery" as View,
  filters: NO_FILTERS as Filters,
  jobs: [] as GalleryJob[],
  next: null as string | null,
  facets: { modes: [], models: [], styles: [], sources: [], sets: [] } as Facets,
  library: null as Library | null,
  selected: null as VariantRef | null,
  compared: [] as VariantRef[],
  opened: null as VariantRef | null,
  live: [] as LiveJob[],
  stream: null as EventSource | null,
  loading: 0,
};

const root = document.getElementById("app")!;
const el = (id: string) => document.getElementById(id)!;

function failed(error: unknown): void {
  if (error instanceof ApiError && error.status === 401) {
    showSignIn("Your sign-in has ended; sign in again.");
    return;
  }
  toast(error instanceof Error ? error.message : String(error), "error");
}

// sign-in

function showSignIn(message = ""): void {
  state.stream?.close();
  state.stream = null;
  const token = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", placeholder: "Pairing token", "aria-label": "Pairing token" });
  const error = h("p", { id: "signin-error", class: "error", role: "alert" }, message);
  replace(root, h("main", { class: "signin" }, h("form", {
    onsubmit: async (event: Event) => {
      event.preventDefault();
      try {
        await api.signIn(token.value);
        await showApp();
      } catch (caught) {
        error.textContent = caught instanceof Error ? caught.message : String(caught);
        token.select();
      }
    },
  },
  h("h1", {}, "Underpaint"),
  h("p", {}, "Paste the pairing token: ", h("code", {}, "underpaint token"), " prints it. It stays in this browser as a cookie no script can read."),
  token,
  h("button", { type: "submit", class: "primary", id: "sign-in" }, "Sign in"),
  error)));
  token.focus();
}

// the app

async function showApp(): Promise<void> {
  replace(root,
    h("header", { class: "top" },
      h("b", { class: "brand" }, "Underpaint"),
      h("nav", {}, VIEWS.map(([view, label]) => h("a", { href: `#/${view}`, "data-view": view }, label, view === "queue" ? h("span", { id: "queue-count", class: "count" }) : null))),
      h("button", { type: "button", class: "quiet", title: "Keyboard shortcuts (?)", onclick: () => toggleHelp() }, "?"),
      h("button", { type: "button", class: "quiet", id: "sign-out", onclick: async () => { await api.signOut(); showSignIn(); } }, "Sign out")),
    h("div", { class: "body" },
      h("main", {},
        h("section", { id: "view-gallery", "data-view": "gallery" }, h("div", { id: "filters" }), h("div", { id: "gallery" })),
        h("section", { id: "view-queue", "data-view": "queue" }, h("h2", {}, "Queue"), h("div", { id: "queue" })),
        h("section", { id: "view-cost", "data-view": "cost" }, h("h2", {}, "Cost"), h("div", { id: "cost" })),
        h("section", { id: "view-library", "data-view": "library" }, h("h2", {}, "Models & styles"), h("div", { id: "library" }))),
      h("aside", { id: "detail", hidden: true })),
    h("div", { id: "compare-bar", hidden: true }),
    h("div", { id: "compare", class: "overlay", hidden: true, role: "dialog", "aria-label": "Compare variants" }),
    h("div", { id: "help", class: "overlay small", hidden: true, role: "dialog", "aria-label": "Keyboard shortcuts" },
      h("h2", {}, "Keyboard shortcuts"), h("dl", {}, SHORTCUTS.flatMap(([keys, what]) => [h("dt", {}, keys), h("dd", {}, what)]))),
    h("div", { id: "toast", role: "status", hidden: true }));
  startLive();
  await Promise.all([loadFacets(), api.library().then((library) => (state.library = library)).catch(failed)]);
  await route();
}

async function route(): Promise<void> {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const view = (VIEWS.find(([name]) => name === path)?.[0] ?? "gallery") as View;
  state.view = view;
  for (const section of document.querySelectorAll<HTMLElement>("main > section")) section.hidden = section.dataset.view !== view;
  for (const link of document.querySelectorAll<HTMLElement>("nav a")) link.classList.toggle("active", link.dataset.view === view);
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

// gallery

const handlers: GalleryHandlers = {
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
  },
};

async function loadFacets(): Promise<void> {
  try {
    state.facets = await api.facets();
  } catch (error) {
    failed(error);
  }
}

function renderFilters(): void {
  replace(el("filters"), filterBar(state.filters, state.facets, handlers));
}

async function loadGallery(): Promise<void> {
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

async function loadMore(): Promise<void> {
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

/** Jobs that ended while the page was open join the top of the gallery (when they match its filters). */
async function addEnded(): Promise<void> {
  await loadFacets();
  if (state.view === "gallery") renderFilters();
  const page = await api.page(state.filters, null);
  const known = new Set(state.jobs.map((job) => job.job_id));
  const fresh = page.jobs.filter((job) => !known.has(job.job_id));
  if (fresh.length === 0) return;
  state.jobs = [...fresh, ...state.jobs];
  if (state.next === null && state.jobs.length === fresh.length) state.next = page.next;
  renderGallery(el("gallery"), state.jobs, state.next, handlers);
  refreshMarks();
}

function refreshMarks(): void {
  markTiles(el("gallery"), state.jobs, state.selected, state.compared);
  const bar = el("compare-bar");
  bar.hidden = state.compared.length === 0;
  replace(bar,
    h("span", {}, `${state.compared.length} of up to 4 to compare`),
    h("button", { type: "button", class: "primary", id: "compare-open", disabled: state.compared.length < 2, onclick: () => void openCompare() }, "Compare"),
    h("button", { type: "button", class: "quiet", onclick: () => { state.compared = []; refreshMarks(); } }, "Clear"));
}

function jobOf(ref: VariantRef): GalleryJob | undefined {
  return state.jobs.find((job) => job.job_id === ref.jobId);
}

async function savePick(ref: VariantRef, change: (pick: Pick) => Pick): Promise<void> {
  const job = jobOf(ref);
  if (!job) return;
  try {
    const updated = await api.setPick(ref.jobId, change(pickOf(job.picks, ref.variant)));
    state.jobs = state.jobs.map((other) => (other.job_id === updated.job_id ? updated : other));
    refreshMarks();
    if (state.opened && sameVariant(state.opened, ref)) await openDetail(ref);
  } catch (error) {
    failed(error);
  }
}

async function openDetail(ref: VariantRef): Promise<void> {
  state.opened = ref;
  const panel = el("detail");
  try {
    const job = await api.job(ref.jobId);
    renderDetail(panel, job, ref.variant, state.library, {
      decide: (decision: Decision) => void savePick(ref, (pick) => decide(pick, decision)),
      note: (note: string) => void savePick(ref, (pick) => ({ ...pick, note })).then(() => toast("Note saved.")),
      close: closeDetail,
      rerun: async (changes) => {
        try {
          const queued = await api.rerun(ref.jobId, changes);
          toast(`Queued ${queued.job_id}; it appears in the queue, then here.`);
        } catch (error) {
          failed(error);
        }
      },
    });
    panel.hidden = false;
  } catch (error) {
    failed(error);
  }
}

function closeDetail(): void {
  state.opened = null;
  el("detail").hidden = true;
}

async function openCompare(): Promise<void> {
  try {
    const ids = [...new Set(state.compared.map((ref) => ref.jobId))];
    const jobs = new Map((await Promise.all(ids.map((id) => api.job(id)))).map((job) => [job.job_id, job]));
    const items: Compared[] = state.compared.map((ref) => ({ ref, job: jobs.get(ref.jobId)! }));
    const overlay = el("compare");
    renderCompare(overlay, items, () => (overlay.hidden = true));
    overlay.hidden = false;
  } catch (error) {
    failed(error);
  }
}

function toggleHelp(): void {
  const help = el("help");
  help.hidden = !help.hidden;
}

// keyboard

function act(action: Action): void {
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
  const current = state.selected ? variants.findIndex((ref) => sameVariant(ref, state.selected!)) : -1;
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
    const tile = document.querySelector<HTMLElement>(`.tile[data-job="${CSS.escape(state.selected.jobId)}"][data-variant="${state.selected.variant}"]`);
    tile?.scrollIntoView({ block: "nearest" });
    tile?.focus({ preventScroll: true });
    if (state.opened && !sameVariant(state.opened, state.selected)) void openDetail(state.selected);
  }
}

document.addEventListener("keydown", (event) => {
  const action = actionFor({ key: event.key, ctrlKey: event.ctrlKey, metaKey: event.metaKey, altKey: event.altKey, targetTag: (event.target as Element | null)?.tagName });
  if (action === null || !document.getElementById("gallery")) return;
  event.preventDefault();
  act(action);
});

// the live queue

function startLive(): void {
  state.stream?.close();
  const stream = new EventSource(files.liveStream());
  state.stream = stream;
  stream.addEventListener("queue", (event) => {
    state.live = JSON.parse((event as MessageEvent<string>).data) as LiveJob[];
    const count = document.getElementById("queue-count");
    if (count) count.textContent = state.live.length ? String(state.live.length) : "";
    if (state.view === "queue") renderQueue(el("queue"), state.live, cancel);
  });
  stream.addEventListener("ended", () => void addEnded().catch(failed));
  stream.onerror = () => {
    // EventSource reconnects by itself; a session that ended needs the sign-in instead.
    void api.session().then((session) => { if (!session.signed_in) showSignIn("Your sign-in has ended; sign in again."); }).catch(() => undefined);
  };
}

async function cancel(jobId: string): Promise<void> {
  try {
    await api.cancel(jobId);
    toast(`Cancelling ${jobId}.`);
  } catch (error) {
    failed(error);
  }
}

window.addEventListener("hashchange", () => void route().catch(failed));

void api.session().then((session) => (session.signed_in ? showApp() : showSignIn())).catch(failed);

// The gallery's filters as the page holds them, and as the query string of /dashboard/api/jobs.
import type { Keep } from "./types.js";

export interface Filters {
  text: string;
  mode: string;
  model: string;
  style: string;
  set: string;
  source: string;
  /** Local calendar days, "YYYY-MM-DD", both included; "" leaves the end open. */
  from: string;
  to: string;
  keep: Keep | "";
}

export const NO_FILTERS: Filters = { text: "", mode: "", model: "", style: "", set: "", source: "", from: "", to: "", keep: "" };

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Seconds since 1970 at the start of a local calendar day; null for anything but "YYYY-MM-DD". */
export function dayStart(day: string): number | null {
  const match = DAY.exec(day);
  if (!match) return null;
  const [, year, month, date] = match.map(Number);
  const start = new Date(year, month - 1, date);
  return start.getMonth() === month - 1 ? start.getTime() / 1000 : null;
}

/** Seconds since 1970 at the end of a local calendar day (the start of the next). */
export function dayEnd(day: string): number | null {
  const start = dayStart(day);
  if (start === null) return null;
  const next = new Date(start * 1000);
  next.setDate(next.getDate() + 1);
  return next.getTime() / 1000;
}

/** The query string of a gallery page: only the filters that are set, and the cursor of the page. */
export function galleryQuery(filters: Filters, before: string | null = null, limit = 24): string {
  const query = new URLSearchParams();
  const plain: [string, string][] = [
    ["q", filters.text.trim()], ["mode", filters.mode], ["model", filters.model], ["style", filters.style],
    ["set", filters.set], ["source", filters.source], ["keep", filters.keep],
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

/** Filters from the page's own address (`#/gallery?mode=fill`), so a filtered view can be bookmarked. */
export function filtersFromHash(search: string): Filters {
  const query = new URLSearchParams(search);
  const keep = query.get("keep");
  return {
    text: query.get("q") ?? "", mode: query.get("mode") ?? "", model: query.get("model") ?? "",
    style: query.get("style") ?? "", set: query.get("set") ?? "", source: query.get("source") ?? "",
    from: query.get("from") ?? "", to: query.get("to") ?? "",
    keep: keep === "starred" || keep === "picked" || keep === "rejected" ? keep : "",
  };
}

export function filtersToHash(filters: Filters): string {
  const query = new URLSearchParams();
  const entries: [string, string][] = [
    ["q", filters.text], ["mode", filters.mode], ["model", filters.model], ["style", filters.style], ["set", filters.set],
    ["source", filters.source], ["from", filters.from], ["to", filters.to], ["keep", filters.keep],
  ];
  for (const [name, value] of entries) if (value) query.set(name, value);
  return query.toString();
}

export function activeFilters(filters: Filters): number {
  return Object.values(filters).filter((value) => value !== "").length;
}

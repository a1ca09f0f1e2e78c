// The gallery's filters as a query string, and local calendar days as the agent's times.
import { describe, expect, it } from "vitest";
import { activeFilters, dayEnd, dayStart, filtersFromHash, filtersToHash, galleryQuery, NO_FILTERS } from "../src/filters.js";

describe("gallery filters", () => {
  it("send only the filters that are set, and the page's cursor and size", () => {
    const query = new URLSearchParams(galleryQuery({ ...NO_FILTERS, text: "  red kite ", mode: "fill", keep: "starred" }, "123.5:job-1", 24));
    expect(Object.fromEntries(query)).toEqual({ q: "red kite", mode: "fill", keep: "starred", before: "123.5:job-1", limit: "24" });
  });

  it("send a day range as the start of the first day and the end of the last, both local", () => {
    const query = new URLSearchParams(galleryQuery({ ...NO_FILTERS, from: "2026-03-01", to: "2026-03-01" }));
    expect(Number(query.get("since"))).toBe(new Date(2026, 2, 1).getTime() / 1000);
    expect(Number(query.get("until"))).toBe(new Date(2026, 2, 2).getTime() / 1000);
  });

  it("ignore a day that is not a calendar day", () => {
    expect(dayStart("2026-02-30")).toBeNull();
    expect(dayStart("yesterday")).toBeNull();
    expect(dayEnd("")).toBeNull();
  });

  it("survive the page's address unchanged", () => {
    const filters = { ...NO_FILTERS, text: "50% off", model: "sd15", set: "spring", from: "2026-01-02", keep: "rejected" as const };
    expect(filtersFromHash(filtersToHash(filters))).toEqual(filters);
  });

  it("read an unknown keep value from the address as none", () => {
    expect(filtersFromHash("keep=loved").keep).toBe("");
  });

  it("count the filters in use", () => {
    expect(activeFilters(NO_FILTERS)).toBe(0);
    expect(activeFilters({ ...NO_FILTERS, mode: "fill", source: "hotfolder" })).toBe(2);
  });
});

// The gallery's keyboard shortcuts, and what they do to picks and the comparison.
import { describe, expect, it } from "vitest";
import { rowStep, variantsOf } from "../src/gallery.js";
import { actionFor, step } from "../src/keys.js";
import { decide, pickOf, toggleCompared } from "../src/picks.js";
import type { GalleryJob, Pick } from "../src/types.js";

function job(job_id: string, variants: number, state = "done"): GalleryJob {
  return {
    job_id, state, mode: "fill", prompt: "", variants, client: "c", source: "websocket", created_at: 0, started_at: 0,
    finished_at: 1, engine_seconds: 1, device: "cpu", error_code: null, error_message: null, set_id: null, engine: "classic",
    model: "classic", style: null, seeds: Array.from({ length: variants }, (_, i) => i), picks: [],
  };
}

describe("keyboard shortcuts", () => {
  it("map p, x and s to pick, reject and star, and arrows and hjkl to moving", () => {
    expect(["p", "x", "s", "ArrowRight", "h", "j", "k", "Escape"].map((key) => actionFor({ key }))).toEqual(
      ["pick", "reject", "star", "next", "previous", "nextRow", "previousRow", "close"]);
  });

  it("never fire while typing in a field, except Escape", () => {
    expect(actionFor({ key: "p", targetTag: "textarea" })).toBeNull();
    expect(actionFor({ key: "s", targetTag: "INPUT" })).toBeNull();
    expect(actionFor({ key: "Escape", targetTag: "INPUT" })).toBe("close");
  });

  it("leave the browser's own shortcuts alone", () => {
    expect(actionFor({ key: "s", ctrlKey: true })).toBeNull();
    expect(actionFor({ key: "p", metaKey: true })).toBeNull();
  });

  it("move through variants, held at both ends", () => {
    expect(step(3, -1, 1)).toBe(0);
    expect(step(3, 2, 1)).toBe(2);
    expect(step(3, 0, -1)).toBe(0);
    expect(step(0, -1, 1)).toBe(-1);
  });

  it("move a row down to the same variant of the next job with variants, or its last", () => {
    const jobs = [job("a", 3), job("failed", 0, "error"), job("b", 2)];
    expect(variantsOf(jobs).map((ref) => `${ref.jobId}:${ref.variant}`)).toEqual(["a:0", "a:1", "a:2", "b:0", "b:1"]);
    expect(rowStep(jobs, { jobId: "a", variant: 2 }, 1)).toEqual({ jobId: "b", variant: 1 });
    expect(rowStep(jobs, { jobId: "b", variant: 0 }, -1)).toEqual({ jobId: "a", variant: 0 });
    expect(rowStep(jobs, null, 1)).toEqual({ jobId: "a", variant: 0 });
  });
});

describe("picks", () => {
  const none: Pick = { variant: 0, starred: false, verdict: null, note: "kept" };

  it("toggle a star and keep the rest", () => {
    expect(decide(none, "star")).toEqual({ ...none, starred: true });
    expect(decide(decide(none, "star"), "star")).toEqual(none);
  });

  it("make pick and reject exclusive, and undo each by repeating it", () => {
    const picked = decide(none, "pick");
    expect(picked.verdict).toBe("pick");
    expect(decide(picked, "reject").verdict).toBe("reject");
    expect(decide(picked, "pick").verdict).toBeNull();
  });

  it("give an undecided variant an empty pick", () => {
    expect(pickOf([], 2)).toEqual({ variant: 2, starred: false, verdict: null, note: "" });
  });

  it("compare at most four variants, the oldest leaving for a fifth", () => {
    let compared = [0, 1, 2, 3].map((variant) => ({ jobId: "a", variant }));
    compared = toggleCompared(compared, { jobId: "b", variant: 0 });
    expect(compared.map((ref) => `${ref.jobId}:${ref.variant}`)).toEqual(["a:1", "a:2", "a:3", "b:0"]);
    expect(toggleCompared(compared, { jobId: "a", variant: 2 })).toHaveLength(3);
  });
});

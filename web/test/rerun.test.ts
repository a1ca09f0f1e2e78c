// The re-run form sends only what changed, typed, and refuses values the agent would refuse.
import { describe, expect, it } from "vitest";
import { seconds } from "../src/format.js";
import { stateLabel } from "../src/queue.js";
import { freshSeed, rerunChanges, rerunDefaults } from "../src/rerun.js";
import type { LiveJob } from "../src/types.js";

describe("re-run form", () => {
  const params = { prompt: "a kite", seed: 40, strength: 0.8 };

  it("starts from the recipe's values", () => {
    expect(rerunDefaults(params)).toEqual({ prompt: "a kite", seed: "40", style: "", strength: "0.8" });
  });

  it("sends nothing for an unchanged recipe, and only the changed fields otherwise", () => {
    expect(rerunChanges(params, rerunDefaults(params))).toEqual({ changes: {} });
    expect(rerunChanges(params, { ...rerunDefaults(params), seed: "41", style: "brand" })).toEqual({ changes: { seed: 41, style: "brand" } });
  });

  it("refuses a seed or strength out of range", () => {
    expect(rerunChanges(params, { ...rerunDefaults(params), seed: "-1" })).toHaveProperty("problem");
    expect(rerunChanges(params, { ...rerunDefaults(params), seed: "4294967296" })).toHaveProperty("problem");
    expect(rerunChanges(params, { ...rerunDefaults(params), strength: "1.5" })).toHaveProperty("problem");
  });

  it("offers a seed after every variant's own", () => {
    expect(freshSeed(params, 3)).toBe(43);
    expect(freshSeed({ seed: 2 ** 32 - 1 }, 1)).toBe(0);
  });
});

describe("labels", () => {
  const live = { job_id: "j", state: "running", mode: "fill", prompt: "", variants: 3, client: "c", source: "websocket", set_id: null, engine: "classic", position: null, fraction: 0.5, variant: 1, step: 4, steps: 8, pictures: {} } as LiveJob;

  it("say where a live job is", () => {
    expect(stateLabel(live)).toBe("variant 2 of 3 · step 4 of 8");
    expect(stateLabel({ ...live, state: "queued", position: 2 })).toBe("waiting · #2 in line");
    expect(stateLabel({ ...live, steps: 0 })).toBe("starting");
  });

  it("write engine time for people", () => {
    expect([seconds(null), seconds(3.456), seconds(42.04), seconds(125), seconds(7300)]).toEqual(["–", "3.46 s", "42.0 s", "2 min 5 s", "2 h 1 min"]);
  });
});

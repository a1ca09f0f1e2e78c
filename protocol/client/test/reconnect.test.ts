// The shared reconnect loop under fake timers: when each attempt happens, when
// it stops trying, and what it hands back.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AgentError } from "../src/client.js";
import { backoffDelay, DEFAULT_BACKOFF, reconnectWithBackoff } from "../src/reconnect.js";

const unreachable = (): AgentError => new AgentError("unreachable", "Cannot reach the agent.", true);
const noJitter = { policy: { jitter: 0 } };

/** An attempt that fails with `failures` in turn, then connects; it records when it ran. */
function scripted(...failures: Error[]) {
  const calls: number[] = [];
  const attempt = vi.fn(async () => {
    calls.push(Date.now());
    const failure = failures.shift();
    if (failure) throw failure;
  });
  return { attempt, calls };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("backoffDelay", () => {
  it("doubles from the first wait and stays at the cap", () => {
    const waits = [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, DEFAULT_BACKOFF, () => 0));
    expect(waits).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
  });

  it("takes the jitter fraction off a wait in proportion to the random draw", () => {
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0.5)).toBe(750);
    expect(backoffDelay(3, { ...DEFAULT_BACKOFF, jitter: 0 }, () => 0.5)).toBe(1000);
  });
});

describe("reconnectWithBackoff", () => {
  it("retries retryable failures after growing waits until the agent answers", async () => {
    const { attempt, calls } = scripted(unreachable(), unreachable());
    const waits: [number, number][] = [];
    const run = reconnectWithBackoff(attempt, { ...noJitter, onAttempt: (n, ms) => waits.push([n, ms]) });
    await vi.advanceTimersByTimeAsync(249);
    expect(calls).toEqual([]);
    await vi.runAllTimersAsync();
    expect(await run.outcome).toEqual({ state: "online" });
    expect(calls).toEqual([250, 750, 1750]);
    expect(waits).toEqual([[1, 250], [2, 500], [3, 1000]]);
  });

  it("uses the injected random draw for jitter", async () => {
    const { attempt, calls } = scripted(unreachable());
    const run = reconnectWithBackoff(attempt, { random: () => 0.5 });
    await vi.runAllTimersAsync();
    await run.outcome;
    expect(calls).toEqual([188, 188 + 375]);
  });

  it.each(["unauthorized", "unsupported_version"])("stops at the first %s answer and hands back the agent's error", async (code) => {
    const refusal = new AgentError(code, "refused", false);
    const { attempt } = scripted(refusal);
    const run = reconnectWithBackoff(attempt, noJitter);
    await vi.runAllTimersAsync();
    expect(await run.outcome).toEqual({ state: "failed", error: refusal });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it("does not retry a failure that is not the agent's answer", async () => {
    const bug = new TypeError("socketFactory is not a function");
    const { attempt } = scripted(bug);
    const run = reconnectWithBackoff(attempt, noJitter);
    await vi.runAllTimersAsync();
    expect(await run.outcome).toEqual({ state: "failed", error: bug });
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it("gives up after maxAttempts retryable failures with the last error", async () => {
    const last = unreachable();
    const { attempt } = scripted(unreachable(), unreachable(), last, unreachable());
    const run = reconnectWithBackoff(attempt, { policy: { jitter: 0, maxAttempts: 3 } });
    await vi.runAllTimersAsync();
    expect(await run.outcome).toEqual({ state: "failed", error: last });
    expect(attempt).toHaveBeenCalledTimes(3);
  });

  it("stop() during a wait ends the loop before another attempt", async () => {
    const { attempt } = scripted(unreachable());
    const run = reconnectWithBackoff(attempt, noJitter);
    await vi.advanceTimersByTimeAsync(300);
    expect(attempt).toHaveBeenCalledTimes(1);
    run.stop();
    expect(await run.outcome).toEqual({ state: "stopped" });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it("stop() during an attempt reports stopped even when that attempt then connects", async () => {
    let connect!: () => void;
    const run = reconnectWithBackoff(() => new Promise<void>((resolve) => (connect = resolve)), noJitter);
    await vi.advanceTimersByTimeAsync(250);
    run.stop();
    connect();
    expect(await run.outcome).toEqual({ state: "stopped" });
  });
});

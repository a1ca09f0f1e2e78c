// The one reconnect loop both plugins use after a dropped line: exponential
// backoff with a cap and jitter, until the agent answers, the caller stops it,
// or an answer says trying again cannot help (a refused pairing token, another
// protocol version): then the user has to act, so the loop hands them the error.

import { AgentError } from "./client.js";

export interface BackoffPolicy {
  /** Wait before the first attempt. */
  initialMs: number;
  /** Each wait is `factor` times the one before, up to `maxMs`. */
  factor: number;
  maxMs: number;
  /** Up to this fraction of each wait is taken off at random, so clients dropped together do not return together. */
  jitter: number;
  /** Retryable failures before giving up; the panel then says how to start the agent. */
  maxAttempts: number;
}

// About two minutes of trying (the last waits 5 s apart): long enough for an agent restart.
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, factor: 2, maxMs: 5000, jitter: 0.5, maxAttempts: 30 };

/** The wait before attempt `attempt` (1-based); `random` returns [0, 1) like Math.random. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const full = Math.min(policy.maxMs, policy.initialMs * policy.factor ** (attempt - 1));
  return Math.round(full * (1 - policy.jitter * random()));
}

/** Whether trying the same connection again can succeed, as the agent said. */
export function isRetryable(error: unknown): boolean {
  // Anything but an AgentError is a fault on this side (a bad URL, a bug), which a retry repeats.
  return error instanceof AgentError && error.retryable;
}

export type ReconnectOutcome =
  | { state: "online" }
  /** A non-retryable answer, or `maxAttempts` retryable failures; `error` is the last one. */
  | { state: "failed"; error: unknown }
  | { state: "stopped" };

export interface ReconnectOptions {
  policy?: Partial<BackoffPolicy>;
  random?: () => number;
  /** Called as each wait begins, so a panel can say "reconnecting (attempt n)". */
  onAttempt?(attempt: number, delayMs: number): void;
}

export interface Reconnecting {
  readonly outcome: Promise<ReconnectOutcome>;
  /** Ends the loop now: no further attempt starts, and `outcome` is "stopped". */
  stop(): void;
}

/** Calls `attempt` (e.g. `() => client.reconnect()`) after each backoff wait until one resolves. */
export function reconnectWithBackoff(attempt: () => Promise<void>, options: ReconnectOptions = {}): Reconnecting {
  const policy = { ...DEFAULT_BACKOFF, ...options.policy };
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
    });

  const run = async (): Promise<ReconnectOutcome> => {
    let error: unknown;
    for (let n = 1; n <= policy.maxAttempts; n++) {
      const delayMs = backoffDelay(n, policy, options.random);
      options.onAttempt?.(n, delayMs);
      await wait(delayMs);
      if (stopped) return { state: "stopped" };
      try {
        await attempt();
      } catch (failure) {
        error = failure;
        if (stopped) return { state: "stopped" };
        if (!isRetryable(failure)) return { state: "failed", error };
        continue;
      }
      // An attempt that lands after stop() is the caller's to close; the loop reports what it was asked.
      return stopped ? { state: "stopped" } : { state: "online" };
    }
    return { state: "failed", error };
  };

  return {
    outcome: run(),
    stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
    },
  };
}

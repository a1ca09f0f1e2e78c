// The panel's state machine: connection and job progress in, what the panel
// shows and which buttons work out. Pure, so every transition is tested
// without a DOM; the panel only renders `view(state)`.

import type { ConnectionStatus } from "./connection.js";
import type { Phase, RunOutcome } from "./job.js";

export interface JobView {
  phase: Phase;
  jobId: string | null;
  fraction: number;
  received: number;
  variants: number;
}

export interface PanelState {
  connection: ConnectionStatus["state"];
  connectionText: string;
  job: JobView | null;
  message: { kind: "info" | "error" | "success"; text: string } | null;
}

export type PanelEvent =
  | { type: "connection"; status: ConnectionStatus }
  | { type: "start"; variants: number }
  | { type: "phase"; phase: Phase; jobId: string | null }
  | { type: "progress"; fraction: number }
  | { type: "result"; received: number }
  | { type: "finished"; outcome: RunOutcome }
  | { type: "failed"; message: string }
  /** A sentence about something besides the job the panel follows (a resumed job's results); that job stays as it is. */
  | { type: "notice"; kind: "info" | "error" | "success"; text: string };

export const initialState: PanelState = { connection: "offline", connectionText: "Not connected.", job: null, message: null };

const PHASE_TEXT: Record<Phase, string> = {
  planning: "Asking the agent which area to send…",
  reading: "Reading the selection and pixels…",
  uploading: "Sending…",
  queued: "Waiting in the agent's queue…",
  running: "Generating…",
  placing: "Placing layers…",
};

export function reduce(state: PanelState, event: PanelEvent): PanelState {
  switch (event.type) {
    case "connection":
      return { ...state, connection: event.status.state, connectionText: connectionText(event.status) };
    case "start":
      return { ...state, message: null, job: { phase: "reading", jobId: null, fraction: 0, received: 0, variants: event.variants } };
    case "phase":
      return state.job ? { ...state, job: { ...state.job, phase: event.phase, jobId: event.jobId ?? state.job.jobId } } : state;
    case "progress":
      // Replayed or late events never move the bar backwards.
      return state.job ? { ...state, job: { ...state.job, fraction: Math.max(state.job.fraction, event.fraction) } } : state;
    case "result":
      return state.job ? { ...state, job: { ...state.job, received: event.received } } : state;
    case "finished":
      return { ...state, job: null, message: outcomeMessage(event.outcome) };
    case "failed":
      return { ...state, job: null, message: { kind: "error", text: event.message } };
    case "notice":
      return { ...state, message: { kind: event.kind, text: event.text } };
  }
}

function connectionText(status: ConnectionStatus): string {
  switch (status.state) {
    case "online": {
      const { agent, capabilities } = status.welcome;
      return `Connected to Underpaint ${agent.version} (${capabilities.default_engine} engine).`;
    }
    case "connecting":
      return "Connecting…";
    case "reconnecting":
      return `Connection lost; reconnecting (attempt ${status.attempt})…`;
    case "offline":
      return status.reason;
  }
}

function outcomeMessage(outcome: RunOutcome): PanelState["message"] {
  switch (outcome.state) {
    case "done": {
      const layers = `${outcome.layers} layer${outcome.layers === 1 ? "" : "s"}`;
      const notes = outcome.warnings.length ? ` ${outcome.warnings.join(" ")}` : "";
      return { kind: "success", text: `Placed ${layers} in one undo step.${notes}` };
    }
    case "refused":
      return { kind: "info", text: outcome.message };
    case "cancelled":
      return { kind: "info", text: "Cancelled; nothing was placed." };
    case "error":
      return { kind: "error", text: outcome.retryable ? `${outcome.message} Try again.` : outcome.message };
  }
}

export interface View {
  canGenerate: boolean;
  canCancel: boolean;
  showProgress: boolean;
  /** 0-100 for sp-progressbar. */
  progress: number;
  progressLabel: string;
}

export function view(state: PanelState): View {
  const job = state.job;
  const cancellable = !!job?.jobId && (job.phase === "queued" || job.phase === "running" || job.phase === "uploading");
  let label = "";
  if (job) {
    label = PHASE_TEXT[job.phase];
    if (job.phase === "running" && job.variants > 1) label += ` ${job.received} of ${job.variants} variants ready.`;
  }
  return {
    canGenerate: state.connection === "online" && !job,
    canCancel: cancellable,
    showProgress: !!job,
    progress: Math.round((job?.fraction ?? 0) * 100),
    progressLabel: label,
  };
}

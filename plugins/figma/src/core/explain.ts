// Sentences for people: why the panel is not connected and what to do, and what
// an agent error means for a designer. Pure, so every case is tested.

export const START_HINT = "Start it with “make run” (or “underpaint serve”) on this computer.";

export interface ConnectFailure {
  code: string;
  message: string;
  agentUrl: string;
  /** The Figma desktop app, not a browser tab. */
  desktop: boolean;
  /** Chrome's "local network access" permission for this page, when the browser reports one. */
  localNetwork: "granted" | "denied" | "prompt" | "unknown";
  /** Chrome's major version, 0 when not Chrome. */
  chromeMajor: number;
}

/** Chrome asks before a public page reaches localhost from this version on (Local Network Access). */
export const CHROME_LNA_VERSION = 142;

export function explainConnectFailure(f: ConnectFailure): string {
  switch (f.code) {
    case "unauthorized":
      return "The agent refused the token. Paste the output of “underpaint token” and press Pair.";
    case "unsupported_version":
      return "This plugin and the agent speak different protocol versions; update the one that is older.";
    case "no_token":
      return "Paste the pairing token that “make run” printed (also “underpaint token”), then press Pair.";
  }
  const unreachable = `Cannot reach the agent at ${f.agentUrl.replace(/\/v1\/ws$/, "")}. ${START_HINT}`;
  if (f.desktop || f.localNetwork === "granted") return unreachable;
  // A browser tab cannot tell "not running" from "blocked" (an opaque-origin iframe may report
  // the permission denied either way), so it names both, the browser's part as firmly as it knows.
  if (f.localNetwork === "denied") return `${unreachable} If it is running, your browser is blocking this panel from reaching it: ${LNA_HELP}`;
  if (f.chromeMajor >= CHROME_LNA_VERSION) return `${unreachable} If it is running, your browser may be blocking this panel from reaching it: ${LNA_HELP}`;
  return unreachable;
}

const LNA_HELP =
  "recent Chrome blocks pages from reaching localhost unless you allow \"local network access\" for figma.com " +
  "(site settings). The Figma desktop app is the supported client and needs no permission.";

const SENTENCES: Record<string, string> = {
  unsupported_mode: "The agent's engine cannot do this mode. Pick another mode, or start the agent with a diffusion engine.",
  unknown_engine: "The agent has no such engine or model any more; pick one from the list.",
  queue_full: "The agent is busy with other jobs; try again in a moment.",
  too_many_pixels: "The frame is too large for the agent's pixel limit; use a smaller frame.",
  empty_mask: "There is nothing to fill in this frame.",
  engine_failed: "The engine failed while working (often memory). Try again, or fewer variants.",
  agent_restarted: "The agent restarted during the job; run it again.",
  disconnected: "The connection to the agent was lost.",
};

/** The agent's own sentence is specific; ours says what to do. Both help a designer. */
export function explainJobError(code: string, agentMessage: string): string {
  const ours = SENTENCES[code];
  return ours ? `${ours} (${agentMessage})` : agentMessage;
}

// Entry of the UI iframe: holds the one websocket to the agent (the main thread
// has no network), runs the jobs the main thread orders and sends back one
// image per message.
import { reconnectWithBackoff, type AgentClient, type Reconnecting } from "../../../../protocol/client/src/index.js";
import { explainConnectFailure } from "../core/explain.js";
import type { JobOrder } from "../core/messages.js";
import { onMain, post } from "./bridge.js";
import { connect, environment } from "./connection.js";
import { Panel } from "./panel.js";
import { runOrder, runSet, type JobView } from "./runner.js";

const panel = new Panel();
let client: AgentClient | null = null;
let reconnecting: Reconnecting | null = null;
let agentUrl = "ws://localhost:7433/v1/ws";

/** Why the panel is not connected, for the user: a refused token, another protocol version, or no agent. */
async function showFailure(error: unknown): Promise<void> {
  const { code = "unreachable", message = String(error) } = error as { code?: string; message?: string };
  const text = code === "unauthorized" ? "Token refused." : "Not connected.";
  panel.status("disconnected", text, explainConnectFailure({ code, message, agentUrl, ...(await environment()) }));
}

async function pair(token: string): Promise<void> {
  reconnecting?.stop();
  reconnecting = null;
  client?.close();
  client = null;
  if (!token) {
    panel.status("disconnected", "Not paired.", explainConnectFailure({ code: "no_token", message: "", agentUrl, desktop: true, localNetwork: "unknown", chromeMajor: 0 }));
    return;
  }
  panel.status("connecting", "Connecting…", agentUrl);
  try {
    const connected = await connect(agentUrl, token);
    client = connected;
    connected.onDisconnect = () => void reconnect(connected);
    panel.connected(connected.welcome);
    post({ type: "connected", engines: connected.welcome.capabilities.engines.map((e) => e.name) });
  } catch (error) {
    await showFailure(error);
  }
}

/**
 * After a dropped line: reconnect with the shared backoff and resume unfinished jobs from their last
 * event (the client keeps sequence numbers). A refused token ends it: the user has to pair again.
 */
async function reconnect(lost: AgentClient): Promise<void> {
  const run = reconnectWithBackoff(() => lost.reconnect(), {
    onAttempt: () => panel.status("connecting", "Connection lost; reconnecting…", `Jobs resume where they were. ${agentUrl}`),
  });
  reconnecting = run;
  const outcome = await run.outcome;
  if (outcome.state === "stopped") return;
  reconnecting = null;
  if (outcome.state === "online") panel.connected(lost.welcome);
  else await showFailure(outcome.error);
}

/** A set's orders arrive one per message (one image each); they go up together once all are in. */
const waitingSets = new Map<string, { order: JobOrder; source: Uint8Array | null; references: Uint8Array[]; view: JobView }[]>();

function startJob(order: JobOrder, source: Uint8Array | null, references: Uint8Array[]): void {
  const current = client;
  const view = panel.addJob(order, () => current?.cancel(order.jobId));
  if (!current?.connected) {
    const text = "Not connected to the agent; pair first.";
    view.finished("error", text);
    post({ type: "finished", jobId: order.jobId, state: "error", recipe: null, message: text });
    return;
  }
  if (!order.set) return void runOrder(current, order, source, references, view, post);
  const parts = [...(waitingSets.get(order.set.id) ?? []), { order, source, references, view }];
  if (parts.length < order.set.count) return void waitingSets.set(order.set.id, parts);
  waitingSets.delete(order.set.id);
  void runSet(current, parts, post);
}

panel.onPair = (token) => {
  post({ type: "save-token", token });
  void pair(token);
};

panel.onRun = (command) => {
  if (!client?.connected) return panel.message("Not connected to the agent; pair first.", true);
  const problem = panel.modeProblem();
  if (problem) return panel.message(problem, true);
  panel.message("");
  post({ type: "run", command, brief: panel.brief(), rules: panel.rules() });
};

panel.onExpand = () => {
  if (!client?.connected) return panel.message("Not connected to the agent; pair first.", true);
  const engine = panel.selectedEngine();
  if (engine && !engine.modes.includes("expand")) return panel.message(`The ${engine.name} engine cannot expand; it offers ${engine.modes.join(", ")}.`, true);
  panel.message("");
  post({ type: "expand", brief: panel.brief(), rules: panel.rules(), ...panel.expandChoice() });
};

panel.onPickReference = () => post({ type: "pick-reference" });

panel.onReseedSet = () => {
  if (!client?.connected) return panel.message("Not connected to the agent; pair first.", true);
  panel.message("");
  post({ type: "reseed-set" });
};

onMain((message) => {
  switch (message.type) {
    case "init":
      agentUrl = message.agentUrl;
      panel.token.value = message.token;
      panel.setSelection(message.selection);
      if (message.command === "regenerate" || message.command === "vary") panel.message(`${message.command === "vary" ? "Varying" : "Regenerating"} the selection once connected…`);
      void pair(message.token);
      return;
    case "selection":
      panel.setSelection(message.selection);
      return;
    case "job":
      startJob(message.order, message.source, message.references);
      return;
    case "reference":
      panel.addReference(message.nodeId, message.name);
      return;
    case "notice":
      panel.message(message.text, true);
  }
});

post({ type: "ready" });

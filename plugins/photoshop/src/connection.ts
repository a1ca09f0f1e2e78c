// The panel's link to the agent: pairing, a plain-language reason when it
// fails, and reconnecting (the shared client then resumes every unfinished job
// from its last sequence number, so a dropped line loses no result).

import {
  AgentClient, AgentError, reconnectWithBackoff, type ClientInfo, type Reconnecting, type ReconnectOptions, type SocketFactory, type Welcome,
} from "./protocol.js";

export const AGENT_URL = "ws://127.0.0.1:7433/v1/ws";
export const CLIENT_INFO: ClientInfo = { name: "underpaint-photoshop", version: "0.1.0" };

export type ConnectionStatus =
  | { state: "offline"; reason: string }
  | { state: "connecting" }
  | { state: "online"; welcome: Welcome }
  | { state: "reconnecting"; attempt: number };

export interface ConnectionOptions {
  url: string;
  socketFactory: SocketFactory;
  onStatus(status: ConnectionStatus): void;
  /** How reconnecting after a dropped line backs off (the shared client's defaults when absent). */
  reconnect?: Omit<ReconnectOptions, "onAttempt">;
}

/** What to tell the user for a failed connection: what happened and what to do. */
export function explain(error: unknown, url: string): string {
  if (error instanceof AgentError) {
    switch (error.code) {
      case "unreachable":
      case "disconnected":
      case "timeout":
        return `Cannot reach the agent at ${url}. Start it on this machine with \`make run\` (or \`underpaint serve\`), then press Connect.`;
      case "unauthorized":
        return "The agent refused the pairing token. Paste the output of `underpaint token` and press Connect.";
      case "unsupported_version":
        return `The agent speaks another protocol version (${error.message}). Update the plugin or the agent so both speak 1.x.`;
      default:
        return error.message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

export class Connection {
  private agent: AgentClient | null = null;
  private token = "";
  private reconnecting: Reconnecting | null = null;

  constructor(private readonly options: ConnectionOptions) {}

  get client(): AgentClient {
    if (!this.agent) throw new AgentError("disconnected", "Not connected to the agent.", true);
    return this.agent;
  }

  get online(): boolean {
    return this.agent?.connected ?? false;
  }

  async connect(token: string): Promise<boolean> {
    this.close();
    this.token = token;
    this.options.onStatus({ state: "connecting" });
    if (!token.trim()) {
      this.options.onStatus({ state: "offline", reason: "Paste the pairing token (run `underpaint token`) and press Connect." });
      return false;
    }
    try {
      const agent = await AgentClient.connect({ url: this.options.url, token, client: CLIENT_INFO, socketFactory: this.options.socketFactory });
      agent.onDisconnect = () => void this.recover(agent);
      this.agent = agent;
      this.options.onStatus({ state: "online", welcome: agent.welcome });
      return true;
    } catch (error) {
      this.options.onStatus({ state: "offline", reason: explain(error, this.options.url) });
      return false;
    }
  }

  close(): void {
    this.reconnecting?.stop();
    this.reconnecting = null;
    this.agent?.close();
    this.agent = null;
  }

  /** Reopens the same client, so its unfinished jobs resume where they stopped. */
  private async recover(agent: AgentClient): Promise<void> {
    const run = reconnectWithBackoff(() => agent.reconnect(), {
      ...this.options.reconnect,
      onAttempt: (attempt) => this.options.onStatus({ state: "reconnecting", attempt }),
    });
    this.reconnecting = run;
    const outcome = await run.outcome;
    if (outcome.state === "stopped") return;
    this.reconnecting = null;
    if (outcome.state === "online") this.options.onStatus({ state: "online", welcome: agent.welcome });
    else this.options.onStatus({ state: "offline", reason: explain(outcome.error, this.options.url) });
  }

  /** The token last used, for reconnecting from the panel. */
  get pairedToken(): string {
    return this.token;
  }
}

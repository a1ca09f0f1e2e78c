// The panel's link to the agent: pairing, a plain-language reason when it
// fails, and reconnecting (the shared client then resumes every unfinished job
// from its last sequence number, so a dropped line loses no result).

import { AgentClient, AgentError, type ClientInfo, type SocketFactory, type Welcome } from "./protocol.js";

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
  /** Waits between reconnect attempts; the last one is repeated until `maxAttempts`. */
  backoffMs?: number[];
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
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
  private closing = false;

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
    this.closing = false;
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
    this.closing = true;
    this.agent?.close();
    this.agent = null;
  }

  /** Reopens the same client, so its unfinished jobs resume where they stopped. */
  private async recover(agent: AgentClient): Promise<void> {
    const backoff = this.options.backoffMs ?? [250, 500, 1000, 2000, 4000];
    const maxAttempts = this.options.maxAttempts ?? 30;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    for (let attempt = 1; attempt <= maxAttempts && !this.closing && this.agent === agent; attempt++) {
      this.options.onStatus({ state: "reconnecting", attempt });
      await sleep(backoff[Math.min(attempt - 1, backoff.length - 1)]);
      try {
        await agent.reconnect();
        this.options.onStatus({ state: "online", welcome: agent.welcome });
        return;
      } catch (error) {
        if (error instanceof AgentError && !error.retryable) {
          this.options.onStatus({ state: "offline", reason: explain(error, this.options.url) });
          return;
        }
      }
    }
    if (this.agent === agent && !this.closing) {
      this.options.onStatus({ state: "offline", reason: explain(new AgentError("unreachable", "", true), this.options.url) });
    }
  }

  /** The token last used, for reconnecting from the panel. */
  get pairedToken(): string {
    return this.token;
  }
}

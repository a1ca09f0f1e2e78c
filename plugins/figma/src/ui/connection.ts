// Opening the websocket from the iframe, and what the browser tells us when it
// fails: the Figma desktop app reaches localhost freely, a Chrome tab may need
// the "local network access" permission first.
import { AgentClient, type SocketLike } from "../../../../protocol/client/src/index.js";
import type { ConnectFailure } from "../core/explain.js";

export const CLIENT = { name: "underpaint-figma", version: "0.1.0" };

export function connect(url: string, token: string): Promise<AgentClient> {
  return AgentClient.connect({ url, token, client: CLIENT, socketFactory: (u) => new WebSocket(u) as unknown as SocketLike, timeoutMs: 8000 });
}

/** Facts about where the panel runs, for explainConnectFailure. */
export async function environment(): Promise<Pick<ConnectFailure, "desktop" | "localNetwork" | "chromeMajor">> {
  const agent = navigator.userAgent;
  // The desktop app is Electron and names itself in the user agent ("Figma/<version>").
  const desktop = /\bFigma\//.test(agent);
  const chromeMajor = Number(/Chrome\/(\d+)/.exec(agent)?.[1] ?? 0);
  let localNetwork: ConnectFailure["localNetwork"] = "unknown";
  try {
    const status = await navigator.permissions.query({ name: "local-network-access" as PermissionName });
    localNetwork = status.state;
  } catch {
    // Browsers without the permission (or a sandbox that hides it) leave it unknown.
  }
  return { desktop, localNetwork, chromeMajor };
}

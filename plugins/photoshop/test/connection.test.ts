// The panel's connection after a dropped line, against scripted sockets and
// fake timers: it reconnects with the shared backoff, and stops (telling the
// user what to do) when the agent's answer says retrying cannot help.
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Connection, type ConnectionStatus } from "../src/connection.js";
import type { SocketLike } from "../src/protocol.js";

const example = (name: string): string => readFileSync(new URL(`../../../protocol/examples/${name}.json`, import.meta.url), "utf8");
const WELCOME = example("welcome.basic");
const UNAUTHORIZED = example("error.unauthorized");

/** A socket that answers `hello` with `answer`, or fails to open when `answer` is "unreachable". */
class ScriptedSocket implements SocketLike {
  binaryType = "";
  readyState = 0;
  onopen: SocketLike["onopen"] = null;
  onmessage: SocketLike["onmessage"] = null;
  onclose: SocketLike["onclose"] = null;
  onerror: SocketLike["onerror"] = null;

  constructor(private readonly answer: string) {
    queueMicrotask(() => {
      if (answer === "unreachable") return this.onerror?.({});
      this.readyState = 1;
      this.onopen?.({});
    });
  }

  send(data: string | ArrayBufferLike | ArrayBufferView): void {
    if ((JSON.parse(String(data)) as { type: string }).type === "hello") queueMicrotask(() => this.onmessage?.({ data: this.answer }));
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }
}

/** A connection whose sockets answer `answers` in turn; it records every status and socket. */
function scripted(...answers: string[]) {
  const sockets: ScriptedSocket[] = [];
  const statuses: ConnectionStatus[] = [];
  const connection = new Connection({
    url: "ws://127.0.0.1:7433/v1/ws",
    socketFactory: () => {
      const socket = new ScriptedSocket(answers.shift() ?? "unreachable");
      sockets.push(socket);
      return socket;
    },
    onStatus: (s) => statuses.push(s),
    reconnect: { random: () => 0 },
  });
  return { connection, sockets, statuses, states: () => statuses.map((s) => s.state) };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Connection after a dropped line", () => {
  it("keeps trying while the agent is unreachable and comes back online", async () => {
    const { connection, sockets, states } = scripted(WELCOME, "unreachable", "unreachable", WELCOME);
    expect(await connection.connect("token")).toBe(true);
    sockets[0].close(1006, "gone");
    await vi.runAllTimersAsync();
    expect(states()).toEqual(["connecting", "online", "reconnecting", "reconnecting", "reconnecting", "online"]);
    expect(sockets).toHaveLength(4);
    expect(connection.online).toBe(true);
  });

  it("stops at a refused pairing token and asks for the token", async () => {
    const { connection, sockets, statuses, states } = scripted(WELCOME, UNAUTHORIZED);
    await connection.connect("token");
    sockets[0].close(1006, "gone");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(states()).toEqual(["connecting", "online", "reconnecting", "offline"]);
    expect(statuses.at(-1)).toEqual({ state: "offline", reason: expect.stringMatching(/refused the pairing token.*underpaint token/) });
    expect(sockets).toHaveLength(2);
  });

  it("stops reconnecting when closed", async () => {
    const { connection, sockets, states } = scripted(WELCOME);
    await connection.connect("token");
    sockets[0].close(1006, "gone");
    await vi.advanceTimersByTimeAsync(0);
    connection.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(states()).toEqual(["connecting", "online", "reconnecting"]);
    expect(sockets).toHaveLength(1);
  });
});

// The built panel in headless Chromium after a dropped line, against a scripted
// agent (a `ws` server answering from protocol/examples): the panel reconnects
// with the shared backoff, and when the agent now refuses the token it stops
// trying and asks for the token instead of retrying forever.
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer, type WebSocket } from "ws";
import { build } from "../build.mjs";
import { AGENT_URL_KEY, startPlugin, TOKEN_KEY, UI_SIZE } from "../src/main/plugin.js";
import { createFakeFigma, install } from "./fake-figma.js";
import { builtUi, openPanel, type Harness } from "./harness.js";

const example = (name: string): string => readFileSync(new URL(`../../../protocol/examples/${name}.json`, import.meta.url), "utf8");

/** An agent that answers the n-th `hello` with `answers[n]` (the last one repeats); it counts the connections. */
async function scriptedAgent(...answers: string[]) {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((ready) => server.once("listening", ready));
  const sockets: WebSocket[] = [];
  server.on("connection", (socket) => {
    sockets.push(socket);
    socket.on("message", () => socket.send(answers[Math.min(sockets.length, answers.length) - 1]));
  });
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/ws`,
    connections: () => sockets.length,
    drop: () => sockets.at(-1)!.close(1001, "agent restarting"),
    close: () => new Promise((done) => server.close(done)),
  };
}

let ui = "";
let harness: Harness | null = null;
let agent: Awaited<ReturnType<typeof scriptedAgent>> | null = null;

beforeAll(async () => {
  await build({ minify: false });
  ui = builtUi();
});
afterEach(async () => {
  await harness?.close();
  await agent?.close();
  harness = null;
  agent = null;
});

describe("the panel after a dropped line", () => {
  it("stops reconnecting and asks for the token when the agent now refuses it", async () => {
    agent = await scriptedAgent(example("welcome.basic"), example("error.unauthorized"));
    const fake = createFakeFigma();
    install(fake, ui);
    fake.storage.set(AGENT_URL_KEY, agent.url);
    fake.storage.set(TOKEN_KEY, "a-token-the-agent-forgets");
    startPlugin();
    harness = await openPanel(fake, ui, UI_SIZE);
    const { panel } = harness;
    await expect.poll(() => panel.locator("#status").getAttribute("data-state")).toBe("connected");

    agent.drop();
    await expect.poll(() => panel.locator("#status-text").textContent()).toBe("Token refused.");
    expect(await panel.locator("#status-detail").textContent()).toContain("underpaint token");
    expect(await panel.locator("#pair").isVisible()).toBe(true);
    // A loop that kept retrying would have tried again within its first waits (0.25 s, 0.5 s, 1 s).
    await new Promise((r) => setTimeout(r, 2500));
    expect(agent.connections()).toBe(2);
    expect(await panel.locator("#status-text").textContent()).toBe("Token refused.");
  });
});

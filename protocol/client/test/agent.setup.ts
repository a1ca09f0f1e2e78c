// Starts a real agent (`underpaint serve`) for the live tests, on a free port with its own
// config and data folders: the classic engine by default, and the diffusers engine on a tiny
// SD 1.5 model with a canny ControlNet, a LoRA and a style (tests/tiny_agent_models.py), so
// panels can run real controls, LoRAs and styles in seconds.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestProject } from "vitest/node";

const python = resolve(".venv/bin/python");
let agent: ChildProcess | undefined;

function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function waitForHealth(url: string): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error("the agent did not start");
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const folder = mkdtempSync(join(tmpdir(), "underpaint-js-"));
  const port = await freePort();
  const env = { ...process.env, UNDERPAINT_PORT: String(port), UNDERPAINT_CONFIG_DIR: join(folder, "config"), UNDERPAINT_DATA_DIR: join(folder, "data") };
  execFileSync(python, [resolve("tests/tiny_agent_models.py"), join(folder, "data")], { stdio: "ignore" });
  agent = spawn(python, ["-m", "underpaint", "serve", "--log-level", "warning"], { env, stdio: "inherit" });
  const http = `http://127.0.0.1:${port}`;
  await waitForHealth(http);
  project.provide("agentHttp", http);
  project.provide("agentWs", `ws://127.0.0.1:${port}/v1/ws`);
  project.provide("agentToken", readFileSync(join(folder, "config", "token"), "utf8").trim());
  return async () => {
    agent?.kill("SIGTERM");
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    agentHttp: string;
    agentWs: string;
    agentToken: string;
  }
}

// An agent of the page test's own (`underpaint serve`, classic engine) that the test can stop and start
// again on the same port and data folder: picks must survive a restart.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

export class LiveAgent {
  private process: ChildProcess | undefined;

  private constructor(readonly folder: string, readonly port: number) {}

  static async start(): Promise<LiveAgent> {
    const agent = new LiveAgent(mkdtempSync(join(tmpdir(), "underpaint-page-")), await freePort());
    await agent.restart();
    return agent;
  }

  get http(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get ws(): string {
    return `ws://127.0.0.1:${this.port}/v1/ws`;
  }

  get token(): string {
    return readFileSync(join(this.folder, "config", "token"), "utf8").trim();
  }

  async restart(): Promise<void> {
    await this.stop();
    const env = { ...process.env, UNDERPAINT_PORT: String(this.port), UNDERPAINT_CONFIG_DIR: join(this.folder, "config"), UNDERPAINT_DATA_DIR: join(this.folder, "data") };
    this.process = spawn(resolve(".venv/bin/python"), ["-m", "underpaint", "serve", "--log-level", "warning"], { env, stdio: "inherit" });
    for (let attempt = 0; attempt < 300; attempt++) {
      try {
        if ((await fetch(`${this.http}/health`)).ok) return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error("the agent did not start");
  }

  async stop(): Promise<void> {
    const running = this.process;
    this.process = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((done) => {
      running.once("exit", () => done());
      running.kill("SIGTERM");
    });
  }

  /** A page route called as a script would, with the token (to check what the browser could not do). */
  async api<T>(path: string): Promise<T> {
    const response = await fetch(`${this.http}/dashboard/api${path}`, { headers: { Authorization: `Bearer ${this.token}` } });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }
}

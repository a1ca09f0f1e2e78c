// The shared client against a real agent (started by agent.setup.ts): what both
// plugins rely on, over a real websocket.
import { inject, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Ajv2020 } from "ajv/dist/2020.js";
import { readFileSync, readdirSync } from "node:fs";
import { AgentClient, type SubmitRequest } from "../src/client.js";
import type { SocketLike } from "../src/socket.js";
import { softEllipse, texturedRgba } from "./images.js";

const W = 160;
const H = 120;
const schemasDir = new URL("../../schemas/", import.meta.url);
const ajv = new Ajv2020({ strict: false });
for (const file of readdirSync(schemasDir)) ajv.addSchema(JSON.parse(readFileSync(new URL(file, schemasDir), "utf8")), file);

/** A `ws` socket that also checks every JSON message the client sends against the schemas. */
function checkedSocket(url: string): SocketLike {
  const socket = new WebSocket(url);
  const send = socket.send.bind(socket);
  (socket as unknown as { send(data: unknown): void }).send = (data: unknown) => {
    if (typeof data === "string") {
      const message = JSON.parse(data);
      if (!ajv.validate(`${message.type}.schema.json`, message)) throw new Error(`client sent an invalid ${message.type}: ${ajv.errorsText()}`);
    }
    send(data as Buffer);
  };
  return socket as unknown as SocketLike;
}

function connect(token = inject("agentToken")): Promise<AgentClient> {
  return AgentClient.connect({ url: inject("agentWs"), token, client: { name: "vitest", version: "1" }, socketFactory: checkedSocket });
}

let counter = 0;
function fillRequest(variants: number): SubmitRequest {
  return {
    jobId: `ts-${Date.now()}-${++counter}`,
    mode: "fill",
    document: { width: W, height: H },
    region: { x: 0, y: 0, width: W, height: H },
    params: { variants, seed: 5 },
    image: { data: texturedRgba(W, H), width: W, height: H, format: "rgba8" },
    mask: { data: softEllipse(W, H, [50, 40, 60, 40]), width: W, height: H, format: "gray8" },
  };
}

describe("AgentClient against a live agent", () => {
  it("pairs and reads the agent's capabilities", async () => {
    const client = await connect();
    expect(client.welcome.capabilities.default_engine).toBe("classic");
    expect(client.welcome.capabilities.engines[0].modes).toContain("fill");
    client.close();
  });

  it("is refused with a clear error for a wrong token", async () => {
    await expect(connect("wrong")).rejects.toMatchObject({ code: "unauthorized" });
  });

  it("plans a context rectangle around a selection", async () => {
    const client = await connect();
    const planned = await client.plan("fill", { width: 4000, height: 3000 }, { x: 1800, y: 1300, width: 400, height: 300 });
    expect(planned.context.x).toBeLessThan(1800);
    expect(planned.context.x + planned.context.width).toBeGreaterThan(2200);
    client.close();
  });

  it("submits a fill, gets progress, each variant with pixels and mask, then done", async () => {
    const client = await connect();
    const progress: number[] = [];
    const seen: number[] = [];
    const outcome = await client.submit(fillRequest(3), {
      onProgress: (m) => progress.push(m.fraction),
      onResult: (r) => seen.push(r.message.variant),
    });
    client.close();
    expect(outcome.state).toBe("done");
    expect(seen).toEqual([0, 1, 2]);
    expect(progress.length).toBeGreaterThan(0);
    const { message, pixels, mask } = outcome.results[0];
    expect(pixels.length).toBe(message.layer.bounds.width * message.layer.bounds.height * 4);
    expect(mask.length).toBe(message.layer.bounds.width * message.layer.bounds.height);
    expect(outcome.state === "done" && outcome.done.recipe.seeds).toEqual([5, 6, 7]);
  });

  it("cancels a job", async () => {
    const client = await connect();
    const request = fillRequest(16);
    const outcome = client.submit(request, { onProgress: () => client.cancel(request.jobId) });
    expect((await outcome).state).toBe("cancelled");
    client.close();
  });

  it("reconnects after a dropped connection and resumes without losing or repeating an event", async () => {
    const client = await connect();
    const seqs: number[] = [];
    const results: number[] = [];
    let dropped = false;
    client.onDisconnect = () => void client.reconnect();
    const outcome = await client.submit(fillRequest(3), {
      onAccepted: (m) => seqs.push(m.seq),
      onProgress: (m) => {
        seqs.push(m.seq);
        if (!dropped) {
          dropped = true;
          (client as unknown as { socket: SocketLike }).socket.close(4000, "test drops the line");
        }
      },
      onResult: (r) => {
        seqs.push(r.message.seq);
        results.push(r.message.variant);
      },
    });
    client.close();
    expect(outcome.state).toBe("done");
    expect(results).toEqual([0, 1, 2]);
    const all = [...seqs, outcome.state === "done" ? outcome.done.seq : -1];
    expect(all).toEqual([...all].sort((a, b) => a - b));
    expect(new Set(all).size).toBe(all.length);
  });

  it("reports a refused submit as the job's error", async () => {
    const client = await connect();
    const request = { ...fillRequest(1), mask: { data: new Uint8Array(W * H), width: W, height: H, format: "gray8" as const } };
    const outcome = await client.submit(request);
    client.close();
    expect(outcome.state === "error" && outcome.error.code).toBe("empty_mask");
  });

  it("sends a control image, which the classic engine refuses naming what it cannot apply", async () => {
    const client = await connect();
    const request = fillRequest(1);
    const scribble = { data: texturedRgba(W, H), width: W, height: H, format: "rgba8" as const };
    const outcome = await client.submit({ ...request, params: { controls: [{ kind: "scribble" }] }, controls: [scribble] });
    client.close();
    expect(outcome.state === "error" && outcome.error.code).toBe("unsupported_feature");
    expect(outcome.state === "error" && outcome.error.message).toContain("controls (ControlNet)");
  });

  it("submits a set: three jobs sharing one set id, listed together", async () => {
    const client = await connect();
    const setId = `ts-set-${Date.now()}`;
    const targets = [0, 1, 2].map((i) => ({ ...fillRequest(1), jobId: `${setId}-${i}` }));
    const outcomes = await client.submitSet({ setId, mode: "fill", params: { seed: 3 }, targets });
    const listed = await client.listJobs(10, setId);
    client.close();
    expect([...outcomes.values()].map((o) => o.state === "done" && o.done.recipe.set_id)).toEqual([setId, setId, setId]);
    expect(listed.map((job) => job.job_id).sort()).toEqual(targets.map((t) => t.jobId));
  });

  it("ends every job of a refused set with the refusal", async () => {
    const client = await connect();
    const setId = `ts-bad-set-${Date.now()}`;
    const targets = [0, 1, 2].map((i) => ({ ...fillRequest(1), jobId: `${setId}-${i}` }));
    targets[1].mask = { data: new Uint8Array((W - 1) * H), width: W - 1, height: H, format: "gray8" };
    const outcomes = await client.submitSet({ setId, mode: "fill", targets });
    const listed = await client.listJobs(10, setId);
    client.close();
    expect([...outcomes.values()].map((o) => o.state === "error" && [o.error.code, o.error.job_id])).toEqual(
      Array(3).fill(["size_mismatch", `${setId}-1`]));
    expect(listed).toEqual([]);
  });

  it("lists recent jobs", async () => {
    const client = await connect();
    const jobs = await client.listJobs(5);
    client.close();
    expect(jobs.length).toBeGreaterThan(0);
  });
});

// Jobs a closed panel left running: kept in plugin storage (running.ts), and
// resumed by a new panel with the shared client's `resume` into the document
// each came from (panel-resume.ts), over the recording Photoshop fake and a
// live agent (classic engine).
import { inject, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { AgentClient, type SocketLike } from "../src/protocol.js";
import { JobHistory, type HistoryStorage } from "../src/history.js";
import { JobController, type JobRequest } from "../src/job.js";
import { documentFor, resumeRunning } from "../src/panel-resume.js";
import { createPhotoshopHost } from "../src/photoshop-host.js";
import { RunningJobs, type RunningJob } from "../src/running.js";
import { softEllipse, texturedRgba } from "../../../protocol/client/test/images.js";
import { FakePhotoshop } from "./fake-photoshop.js";

const W = 96;
const H = 80;

function storage(): HistoryStorage {
  const items = new Map<string, string>();
  return { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v) };
}

const job = (over: Partial<RunningJob> = {}): RunningJob => ({
  jobId: "ps-1", document: { id: 31, path: "/Users/ana/street.psd", title: "street.psd" }, afterSeq: 0, mode: "fill", prompt: "a kite",
  expand: { left: 0, top: 0, right: 0, bottom: 0 }, depth: 8, label: "a kite", ...over,
});

describe("running jobs in plugin storage", () => {
  it("keeps each job once, its last handled event never moving back, until removed", () => {
    const running = new RunningJobs(storage());
    running.put(job());
    running.put(job({ jobId: "ps-2" }));
    running.advance("ps-1", 3);
    running.advance("ps-1", 2);
    expect(new RunningJobs(running["storage"]).list().map((j) => [j.jobId, j.afterSeq])).toEqual([["ps-1", 3], ["ps-2", 0]]);
    running.remove("ps-1");
    expect(running.list().map((j) => j.jobId)).toEqual(["ps-2"]);
  });
  it("reads damaged storage as no jobs", () => {
    const store = storage();
    store.setItem("underpaint.running", "[{\"jobId\": 5}, nonsense");
    expect(new RunningJobs(store).list()).toEqual([]);
  });
  it("finds the job's document by id in the same session and by path after a restart", () => {
    const info = (id: number, path: string) => ({ id, path, title: "t", width: 1, height: 1, facts: { mode: "RGBColorMode", bitsPerChannel: "bitDepth8" } });
    expect(documentFor(job(), [info(30, "/x.psd"), info(31, "/Users/ana/street.psd")])?.id).toBe(31);
    expect(documentFor(job(), [info(44, "/Users/ana/street.psd")])?.id).toBe(44);
    expect(documentFor(job({ document: { id: 31, path: "", title: "Untitled-1" } }), [info(32, "")])).toBeUndefined();
  });
});

const socketFactory = (url: string) => new WebSocket(url) as unknown as SocketLike;
const connect = (): Promise<AgentClient> =>
  AgentClient.connect({ url: inject("agentWs"), token: inject("agentToken"), client: { name: "ps-resume-test", version: "1" }, socketFactory });
const fill: JobRequest = { mode: "fill", prompt: "a red kite", negativePrompt: "", variants: 1, seed: 5, strength: 1, expand: { left: 0, top: 0, right: 0, bottom: 0 } };

/** A panel that sent a fill and was closed once the agent accepted it: the job stays in `store`. */
async function closedMidJob(ps: FakePhotoshop, store: HistoryStorage): Promise<RunningJob> {
  const client = await connect();
  const running = new RunningJobs(store);
  const controller = new JobController(createPhotoshopHost(ps.modules()), () => client, { running, makeJobId: () => `ps-resume-${Date.now()}-${Math.random().toString(36).slice(2, 8)}` });
  const run = controller.run(fill, {
    onPhase: (phase) => {
      if (phase !== "queued" && phase !== "running") return;
      client.close();
      controller.abandon(new Error("the panel closed"));
    },
  });
  await expect(run).rejects.toThrow("the panel closed");
  const [left] = running.list();
  expect(left.afterSeq).toBeGreaterThanOrEqual(1);
  return left;
}

function street(ps: FakePhotoshop): void {
  ps.addDocument({ id: 31, title: "street.psd", path: "/Users/ana/street.psd", width: W, height: H, composite: texturedRgba(W, H), selection: softEllipse(W, H, [48, 40, 20, 16]) });
}

describe("a panel reopened mid-job", () => {
  it("resumes the job and places its results into the document it came from, not the active one", async () => {
    const ps = new FakePhotoshop();
    street(ps);
    const store = storage();
    const left = await closedMidJob(ps, store);
    const other = ps.addDocument({ id: 32, title: "poster.psd", width: 40, height: 40, composite: texturedRgba(40, 40) });

    const client = await connect();
    const history = new JobHistory(store);
    const notices: string[] = [];
    const running = new RunningJobs(store);
    await Promise.all(resumeRunning(client, { host: createPhotoshopHost(ps.modules()), running, history, following: () => [], notice: (_, text) => notices.push(text), placed: () => undefined }));
    client.close();

    const doc = ps.documents[0];
    expect(doc.history).toEqual(["Open", "Underpaint Fill: a red kite"]);
    expect(doc.layers[0]).toMatchObject({ name: "a red kite", kind: "group" });
    expect(doc.layers[0].children).toHaveLength(1);
    expect(other.history).toEqual(["Open"]);
    expect(ps.calls.filter((c) => c.fn === "hostControl.suspendHistory").map((c) => c.args.documentID)).toEqual([31]);
    expect(running.list()).toEqual([]);
    expect(history.list({ id: 31, path: "/Users/ana/street.psd" }).map((e) => e.jobId)).toEqual([left.jobId]);
    expect(notices).toEqual(["Placed 1 layer of the job that was running when the panel closed into street.psd."]);
  });

  it("keeps the results waiting, and says so, while their document is closed", async () => {
    const ps = new FakePhotoshop();
    street(ps);
    const store = storage();
    const left = await closedMidJob(ps, store);
    ps.documents.splice(0, 1);
    ps.active = null;

    const client = await connect();
    const notices: string[] = [];
    const running = new RunningJobs(store);
    await Promise.all(resumeRunning(client, { host: createPhotoshopHost(ps.modules()), running, history: new JobHistory(store), following: () => [], notice: (_, text) => notices.push(text), placed: () => undefined }));
    client.close();
    expect(notices).toEqual(["Results for street.psd are ready, but it is not open: open it, then reopen this panel to place them."]);
    expect(running.list().map((j) => j.jobId)).toEqual([left.jobId]);
  });
});

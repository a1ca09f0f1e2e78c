// The plugin core (job controller + Photoshop adapter over the recording fake)
// against a live agent (classic engine, started by agent.setup.ts): a document
// with a soft elliptical selection goes in, masked layers with the agent's own
// pixels come out at its bounds, in one history step.
import { inject, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { AgentClient, type SocketLike, type VariantResult } from "../src/protocol.js";
import { Connection, type ConnectionStatus } from "../src/connection.js";
import { JobController, type JobRequest, type Phase } from "../src/job.js";
import { createPhotoshopHost } from "../src/photoshop-host.js";
import { softEllipse, texturedRgba } from "../../../protocol/client/test/images.js";
import { FakePhotoshop, type FakeImageData, type FakeLayer } from "./fake-photoshop.js";

const W = 240;
const H = 180;
const socketFactory = (url: string) => new WebSocket(url) as unknown as SocketLike;

function connect(): Promise<AgentClient> {
  return AgentClient.connect({ url: inject("agentWs"), token: inject("agentToken"), client: { name: "ps-test", version: "1" }, socketFactory });
}

function fakeDocument(selection: Uint8Array | null = softEllipse(W, H, [90, 60, 70, 50])) {
  const ps = new FakePhotoshop();
  const doc = ps.addDocument({ id: 31, title: "street.psd", width: W, height: H, composite: texturedRgba(W, H), selection });
  return { ps, doc, host: createPhotoshopHost(ps.modules(), { sleep: async () => undefined }) };
}

let counter = 0;
const makeJobId = () => `ps-it-${Date.now()}-${++counter}`;
const fill: JobRequest = { mode: "fill", prompt: "a red balloon", negativePrompt: "", variants: 3, seed: 42, strength: 1, expand: { left: 0, top: 0, right: 0, bottom: 0 } };

/** The job's results as the agent logged them, fetched again on a separate connection. */
async function agentResults(jobId: string): Promise<VariantResult[]> {
  const other = await connect();
  const outcome = await other.resume(jobId, 0);
  other.close();
  return outcome.results;
}

describe("plugin core against a live agent", () => {
  it("fills a soft elliptical selection: three masked layers with the agent's pixels, one undo step", async () => {
    const { ps, doc, host } = fakeDocument();
    const client = await connect();
    const phases: Phase[] = [];
    const fractions: number[] = [];
    const controller = new JobController(host, () => client, { makeJobId });
    const outcome = await controller.run(fill, { onPhase: (p) => phases.push(p), onProgress: (m) => fractions.push(m.fraction) });
    expect(outcome.state).toBe("done");
    if (outcome.state !== "done") return;
    expect(outcome.layers).toBe(3);
    expect(outcome.recipe.seeds).toEqual([42, 43, 44]);
    expect(phases[0]).toBe("planning");
    expect(phases).toContain("running");
    expect(phases.at(-1)).toBe("placing");
    expect(fractions.length).toBeGreaterThan(0);

    // Only the context the agent plans is read, for both the pixels and the selection.
    const b = doc.selection.bounds!;
    const selection = { x: b.left, y: b.top, width: b.right - b.left, height: b.bottom - b.top };
    const planned = await client.plan("fill", { width: W, height: H }, selection, { prompt: "a red balloon", negative_prompt: "", variants: 3, seed: 42 });
    client.close();
    const context = { left: planned.context.x, top: planned.context.y, right: planned.context.x + planned.context.width, bottom: planned.context.y + planned.context.height };
    expect(ps.calls.find((c) => c.fn === "imaging.getPixels")!.args.sourceBounds).toEqual(context);
    expect(ps.calls.find((c) => c.fn === "imaging.getSelection")!.args.sourceBounds).toEqual(context);
    expect(planned.context.width).toBeLessThan(W);
    expect(outcome.recipe.region).toEqual(planned.context);

    // One history state; one group named after the brief; three layers, the first visible.
    expect(doc.history).toEqual(["Open", "Underpaint Fill: a red balloon"]);
    expect(doc.layers.map((l) => [l.name, l.kind])).toEqual([["a red balloon", "group"]]);
    const layers: FakeLayer[] = doc.layers[0].children;
    expect(layers.map((l) => l.visible)).toEqual([true, false, false]);

    const results = await agentResults(outcome.jobId);
    expect(results.map((r) => r.message.variant)).toEqual([0, 1, 2]);
    results.forEach((result, i) => {
      const layer = layers[i];
      const { bounds, name } = result.message.layer;
      expect(layer.name).toBe(name);
      expect(name).toContain(String(42 + i));
      const target = { left: bounds.x, top: bounds.y, width: bounds.width, height: bounds.height };
      expect(layer.pixels!.targetBounds).toEqual(target);
      expect(layer.mask!.put!.targetBounds).toEqual(target);
      expect(Buffer.from((layer.pixels!.imageData as FakeImageData).data as Uint8Array).equals(Buffer.from(result.pixels))).toBe(true);
      expect(Buffer.from((layer.mask!.put!.imageData as FakeImageData).data as Uint8Array).equals(Buffer.from(result.mask))).toBe(true);
      // The mask is the soft selection: solid in the middle of the ellipse, nothing in the context's corner.
      const at = (x: number, y: number) => result.mask[(y - bounds.y) * bounds.width + (x - bounds.x)];
      expect(at(125, 85)).toBe(255);
      expect(at(bounds.x, bounds.y)).toBe(0);
      expect([...result.mask].some((v) => v > 0 && v < 255)).toBe(true);
    });
  });

  it("expands by different margins per side: the canvas grows and the layers land in one undo step", async () => {
    const { doc, host } = fakeDocument(null);
    const client = await connect();
    const expand = { left: 16, top: 0, right: 48, bottom: 8 };
    const outcome = await new JobController(host, () => client, { makeJobId }).run({ ...fill, mode: "expand", variants: 1, expand });
    client.close();
    expect(outcome).toMatchObject({ state: "done", layers: 1 });
    if (outcome.state !== "done") return;
    expect(outcome.recipe.params.expand).toEqual(expand);
    expect([doc.width, doc.height]).toEqual([W + 64, H + 8]);
    expect(doc.history).toEqual(["Open", "Underpaint Expand: a red balloon"]);
    const [layer] = doc.layers[0].children;
    const bounds = layer.pixels!.targetBounds!;
    expect(bounds.left + bounds.width).toBeLessThanOrEqual(W + 64);
    expect(bounds.top + bounds.height).toBeLessThanOrEqual(H + 8);
  });

  it("refuses Fill with no selection before talking to the agent, and Remove on CMYK", async () => {
    const client = await connect();
    const { ps, host } = fakeDocument(null);
    const outcome = await new JobController(host, () => client).run(fill);
    expect(outcome).toEqual({ state: "refused", message: expect.stringMatching(/^Select the area to fill first/) });
    expect(ps.calls.filter((c) => c.fn.startsWith("imaging."))).toEqual([]);

    const cmyk = new FakePhotoshop();
    cmyk.addDocument({ id: 2, width: 10, height: 10, composite: new Uint8Array(400), mode: "CMYKColorMode", selection: new Uint8Array(100).fill(255) });
    const refused = await new JobController(createPhotoshopHost(cmyk.modules()), () => client).run({ ...fill, mode: "remove" });
    expect(refused).toMatchObject({ state: "refused", message: expect.stringMatching(/CMYK/) });
    client.close();
  });

  it("reports the agent's refusal of a mode its engine cannot do", async () => {
    const client = await connect();
    const { host, doc } = fakeDocument();
    const outcome = await new JobController(host, () => client, { makeJobId }).run({ ...fill, mode: "generate" });
    client.close();
    expect(outcome).toMatchObject({ state: "error", code: "unsupported_mode" });
    expect(doc.history).toEqual(["Open"]);
  });

  it("cancels a running job and places nothing", async () => {
    const client = await connect();
    const { host, doc } = fakeDocument();
    const controller = new JobController(host, () => client, { makeJobId });
    const outcome = await controller.run({ ...fill, variants: 16 }, { onProgress: () => controller.cancel() });
    client.close();
    expect(outcome.state).toBe("cancelled");
    expect(doc.layers).toEqual([]);
  });

  it("reconnects after a dropped line and still places every variant", async () => {
    const statuses: ConnectionStatus["state"][] = [];
    const connection = new Connection({ url: inject("agentWs"), socketFactory, onStatus: (s) => statuses.push(s.state), reconnect: { policy: { initialMs: 50 } } });
    expect(await connection.connect(inject("agentToken"))).toBe(true);
    const { doc, host } = fakeDocument();
    const controller = new JobController(host, () => connection.client, { makeJobId });
    let dropped = false;
    const outcome = await controller.run(fill, {
      onProgress: () => {
        if (dropped) return;
        dropped = true;
        (connection.client as unknown as { socket: SocketLike }).socket.close(4000, "test drops the line");
      },
    });
    connection.close();
    expect(dropped).toBe(true);
    expect(statuses).toEqual(["connecting", "online", "reconnecting", "online"]);
    expect(outcome.state).toBe("done");
    expect(doc.layers[0].children).toHaveLength(3);
    expect(doc.history).toHaveLength(2);
  });

  it("explains a wrong token and an agent that is not running", async () => {
    const seen: ConnectionStatus[] = [];
    const wrong = new Connection({ url: inject("agentWs"), socketFactory, onStatus: (s) => seen.push(s) });
    expect(await wrong.connect("not-the-token")).toBe(false);
    expect(seen.at(-1)).toEqual({ state: "offline", reason: expect.stringMatching(/refused the pairing token.*underpaint token/) });
    const nobody = new Connection({ url: "ws://127.0.0.1:9/v1/ws", socketFactory, onStatus: (s) => seen.push(s) });
    expect(await nobody.connect("x")).toBe(false);
    expect(seen.at(-1)).toEqual({ state: "offline", reason: expect.stringMatching(/Cannot reach the agent.*make run/) });
  });
});

// Protocol v1 client shared by the Photoshop and Figma plugins: handshake,
// plan, submit (with control and reference images) and submit_set with chunked
// uploads, streamed results, cancel, resume, list.
// Every job remembers the last sequence number it saw, so `reconnect` resumes
// unfinished jobs without losing or repeating an event.

import { chunkFrames, decodeFrame, DEFAULT_CHUNK_BYTES, StreamAssembler } from "./frames.js";
import type {
  Accepted, Blob, Cancelled, ClientInfo, Done, Error as ErrorMessage, JobSummary, Jobs, Mode, Params, Planned,
  Preview, Progress, Rect, Result, SetTarget, Size, Welcome,
} from "./messages.gen.js";
import { OPEN, type SocketFactory, type SocketLike } from "./socket.js";

export const PROTOCOL_VERSION = "1.0";
export type AgentMessage = Welcome | Planned | Accepted | Progress | Preview | Result | Done | ErrorMessage | Cancelled | Jobs;
const AGENT_TYPES = new Set(["welcome", "planned", "accepted", "progress", "preview", "result", "done", "error", "cancelled", "jobs", "exported"]);

/** An error the agent sent, or a connection failure described the same way. */
export class AgentError extends Error {
  constructor(readonly code: string, message: string, readonly retryable: boolean, readonly jobId: string | null = null) {
    super(message);
    this.name = "AgentError";
  }
}

export function parseAgentMessage(text: string): AgentMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AgentError("bad_json", "The agent sent a text frame that is not JSON.", false);
  }
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof type !== "string" || !AGENT_TYPES.has(type)) {
    throw new AgentError("unknown_type", `The agent sent an unknown message type '${String(type)}'.`, false);
  }
  return value as AgentMessage;
}

export interface ImageInput {
  data: Uint8Array;
  width: number;
  height: number;
  format: "rgba8" | "gray8" | "png";
}

export interface SubmitRequest {
  jobId: string;
  mode: Mode;
  document: Size;
  region: Rect;
  params?: Params;
  image?: ImageInput;
  mask?: ImageInput;
  /** One per `params.controls`, in order: its image, or null for a control derived from the source. */
  controls?: (ImageInput | null)[];
  /** One per `params.references`, in order. */
  references?: ImageInput[];
  setId?: string;
  resultFormat?: "raw" | "png";
  previews?: boolean;
}

/** One target of a set: where its result goes and its own pixels. */
export interface SetTargetRequest {
  jobId: string;
  document: Size;
  region: Rect;
  image?: ImageInput;
  mask?: ImageInput;
  controls?: (ImageInput | null)[];
}

/** One recipe over many targets; the references are sent once and apply to every target. */
export interface SubmitSetRequest {
  setId: string;
  mode: Mode;
  params?: Params;
  targets: SetTargetRequest[];
  references?: ImageInput[];
  resultFormat?: "raw" | "png";
  previews?: boolean;
}

type Upload = [stream: string, data: Uint8Array];

function announce(stream: string, input: ImageInput, uploads: Upload[]): Blob {
  uploads.push([stream, input.data]);
  return { stream, format: input.format, width: input.width, height: input.height, bytes: input.data.length };
}

/** The image, mask and control Blobs of a submit or set target, streams named after `prefix`. */
function ownBlobs(prefix: string, target: { image?: ImageInput; mask?: ImageInput; controls?: (ImageInput | null)[] },
  uploads: Upload[]): Pick<SetTarget, "image" | "mask" | "controls"> {
  return {
    ...(target.image && { image: announce(`${prefix}/image`, target.image, uploads) }),
    ...(target.mask && { mask: announce(`${prefix}/mask`, target.mask, uploads) }),
    ...(target.controls?.length && {
      controls: target.controls.map((input, i) => input && announce(`${prefix}/control-${i}`, input, uploads)),
    }),
  };
}

export interface VariantResult {
  message: Result;
  pixels: Uint8Array;
  mask: Uint8Array;
}

export interface JobHandlers {
  onAccepted?(message: Accepted): void;
  onProgress?(message: Progress): void;
  onPreview?(message: Preview, image: Uint8Array): void;
  onResult?(result: VariantResult): void;
}

export type JobOutcome =
  | { state: "done"; done: Done; results: VariantResult[] }
  | { state: "error"; error: ErrorMessage; results: VariantResult[] }
  | { state: "cancelled"; results: VariantResult[] };

interface JobState {
  handlers: JobHandlers;
  lastSeq: number;
  results: VariantResult[];
  finished: boolean;
  resolve(outcome: JobOutcome): void;
  promise: Promise<JobOutcome>;
}

interface PendingBlobs {
  message: Result | Preview;
  assemblers: Map<string, StreamAssembler>;
}

export interface ConnectOptions {
  url: string;
  token: string;
  client: ClientInfo;
  socketFactory: SocketFactory;
  timeoutMs?: number;
}

export class AgentClient {
  welcome!: Welcome;
  private socket!: SocketLike;
  private readonly jobs = new Map<string, JobState>();
  /** Set id -> its job ids: a refused set ends each of them. */
  private readonly sets = new Map<string, string[]>();
  private readonly streams = new Map<string, PendingBlobs>();
  private readonly plans = new Map<string, { resolve(p: Planned): void; reject(e: AgentError): void }>();
  private readonly listings: { resolve(j: JobSummary[]): void; reject(e: AgentError): void }[] = [];
  private requestCounter = 0;
  onDisconnect: ((reason: AgentError) => void) | null = null;
  onAgentError: ((error: AgentError) => void) | null = null;

  private constructor(private readonly options: ConnectOptions) {}

  static async connect(options: ConnectOptions): Promise<AgentClient> {
    const client = new AgentClient(options);
    await client.open();
    return client;
  }

  get connected(): boolean {
    return this.socket.readyState === OPEN;
  }

  get chunkBytes(): number {
    return this.welcome.capabilities.limits.chunk_bytes || DEFAULT_CHUNK_BYTES;
  }

  /** Opens a new connection and resumes every unfinished job from its last sequence number. */
  async reconnect(): Promise<void> {
    await this.open();
    for (const [jobId, job] of this.jobs) {
      if (!job.finished) this.sendJson({ type: "resume", job_id: jobId, after_seq: job.lastSeq });
    }
  }

  close(): void {
    this.socket.onclose = null;
    this.socket.close(1000, "client closing");
  }

  plan(mode: Mode, document: Size, selection: Rect, params: Params = {}): Promise<Planned> {
    const requestId = `plan-${++this.requestCounter}`;
    return new Promise((resolve, reject) => {
      this.plans.set(requestId, { resolve, reject });
      this.sendJson({ type: "plan", request_id: requestId, mode, document, selection, params });
    });
  }

  /** Recent jobs, newest first; only those of `setId` when given. */
  listJobs(limit = 50, setId?: string): Promise<JobSummary[]> {
    return new Promise((resolve, reject) => {
      this.listings.push({ resolve, reject });
      this.sendJson({ type: "list_jobs", limit, ...(setId && { set_id: setId }) });
    });
  }

  submit(request: SubmitRequest, handlers: JobHandlers = {}): Promise<JobOutcome> {
    const uploads: Upload[] = [];
    const own = ownBlobs(request.jobId, request, uploads);
    const references = (request.references ?? []).map((input, i) => announce(`${request.jobId}/reference-${i}`, input, uploads));
    const job = this.track(request.jobId, handlers);
    this.sendJson({
      type: "submit", job_id: request.jobId, mode: request.mode, params: request.params ?? {},
      document: request.document, region: request.region, result_format: request.resultFormat ?? "raw",
      previews: request.previews ?? false, ...own, ...(references.length && { references }),
      ...(request.setId && { set_id: request.setId }),
    });
    this.sendUploads(uploads);
    return job.promise;
  }

  /** Submit one recipe over `request.targets`; resolves with each target's outcome, by job id. */
  async submitSet(request: SubmitSetRequest, handlers: JobHandlers = {}): Promise<Map<string, JobOutcome>> {
    const uploads: Upload[] = [];
    const targets = request.targets.map((target) => ({
      job_id: target.jobId, document: target.document, region: target.region, ...ownBlobs(target.jobId, target, uploads),
    }));
    const references = (request.references ?? []).map((input, i) => announce(`${request.setId}/reference-${i}`, input, uploads));
    const jobs = request.targets.map((target) => this.track(target.jobId, handlers));
    this.sets.set(request.setId, request.targets.map((target) => target.jobId));
    this.sendJson({
      type: "submit_set", set_id: request.setId, mode: request.mode, params: request.params ?? {}, targets,
      ...(references.length && { references }), result_format: request.resultFormat ?? "raw", previews: request.previews ?? false,
    });
    this.sendUploads(uploads);
    const outcomes = await Promise.all(jobs.map((job) => job.promise));
    return new Map(request.targets.map((target, i) => [target.jobId, outcomes[i]]));
  }

  /** Follow a job this client did not submit (or lost), from `afterSeq`. */
  resume(jobId: string, afterSeq: number, handlers: JobHandlers = {}): Promise<JobOutcome> {
    const job = this.track(jobId, handlers);
    job.lastSeq = Math.max(job.lastSeq, afterSeq);
    this.sendJson({ type: "resume", job_id: jobId, after_seq: afterSeq });
    return job.promise;
  }

  cancel(jobId: string): void {
    this.sendJson({ type: "cancel", job_id: jobId });
  }

  lastSeq(jobId: string): number {
    return this.jobs.get(jobId)?.lastSeq ?? 0;
  }

  unfinishedJobs(): string[] {
    return [...this.jobs].filter(([, job]) => !job.finished).map(([id]) => id);
  }

  // connection

  private open(): Promise<void> {
    const { url, token, client, socketFactory, timeoutMs = 10_000 } = this.options;
    return new Promise((resolve, reject) => {
      const socket = socketFactory(url);
      socket.binaryType = "arraybuffer";
      this.socket = socket;
      let welcomed = false;
      const timer = setTimeout(() => fail(new AgentError("timeout", "The agent did not answer the handshake in time.", true)), timeoutMs);
      const fail = (error: AgentError): void => {
        clearTimeout(timer);
        socket.onclose = null;
        socket.close();
        reject(error);
      };
      socket.onopen = () => {
        socket.send(JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION, client, token }));
      };
      socket.onerror = () => {
        if (!welcomed) fail(new AgentError("unreachable", `Cannot reach the agent at ${url}.`, true));
      };
      socket.onclose = (event) => {
        const error = new AgentError("disconnected", `The connection closed (${event.code}${event.reason ? `: ${event.reason}` : ""}).`, true);
        if (!welcomed) fail(error);
        else this.onDisconnect?.(error);
      };
      socket.onmessage = (event) => {
        if (welcomed) {
          this.receive(event.data);
          return;
        }
        const message = parseAgentMessage(String(event.data));
        if (message.type === "welcome") {
          welcomed = true;
          clearTimeout(timer);
          this.welcome = message;
          resolve();
        } else if (message.type === "error") {
          fail(new AgentError(message.code, message.message, message.retryable));
        }
      };
    });
  }

  private sendJson(message: object): void {
    this.socket.send(JSON.stringify(message));
  }

  private sendUploads(uploads: Upload[]): void {
    for (const [stream, data] of uploads) {
      for (const frame of chunkFrames(stream, data, this.chunkBytes)) this.socket.send(frame);
    }
  }

  private track(jobId: string, handlers: JobHandlers): JobState {
    const existing = this.jobs.get(jobId);
    if (existing && !existing.finished) {
      existing.handlers = handlers;
      return existing;
    }
    let resolve!: (outcome: JobOutcome) => void;
    const promise = new Promise<JobOutcome>((r) => (resolve = r));
    const job: JobState = { handlers, lastSeq: 0, results: [], finished: false, resolve, promise };
    this.jobs.set(jobId, job);
    return job;
  }

  // receiving

  private receive(data: unknown): void {
    if (typeof data === "string") {
      this.dispatch(parseAgentMessage(data));
      return;
    }
    const chunk = decodeFrame(data instanceof ArrayBuffer ? data : (data as Uint8Array));
    const pending = this.streams.get(chunk.stream);
    if (!pending) return;
    pending.assemblers.get(chunk.stream)!.add(chunk);
    if ([...pending.assemblers.values()].every((a) => a.complete)) {
      for (const stream of pending.assemblers.keys()) this.streams.delete(stream);
      this.deliverBlobs(pending);
    }
  }

  private dispatch(message: AgentMessage): void {
    switch (message.type) {
      case "planned":
        this.plans.get(message.request_id)?.resolve(message);
        this.plans.delete(message.request_id);
        return;
      case "jobs":
        this.listings.shift()?.resolve(message.jobs);
        return;
      case "welcome":
        return;
      case "error":
        if (message.set_id && message.seq == null && this.sets.has(message.set_id)) {
          // A refused set: none of its jobs was queued, so each ends with this error.
          for (const jobId of this.sets.get(message.set_id)!) {
            const job = this.jobs.get(jobId);
            if (job && !job.finished) this.finish(job, { state: "error", error: message, results: job.results });
          }
          return;
        }
        if (!message.job_id || !this.jobs.has(message.job_id)) {
          this.failRequests(new AgentError(message.code, message.message, message.retryable, message.job_id ?? null));
          return;
        }
    }
    const job = this.jobs.get(message.job_id ?? "");
    if (!job) return;
    const seq = message.seq ?? 0;
    // Replayed events the client already has are skipped; seq 0 is a duplicate-submit reply.
    if (seq !== 0 && seq <= job.lastSeq) return;
    if (message.type === "result" || message.type === "preview") {
      const blobs = message.type === "result" ? [message.pixels, message.mask] : [message.image];
      const pending: PendingBlobs = { message, assemblers: new Map(blobs.map((b) => [b.stream, new StreamAssembler(b.stream, b.bytes)])) };
      for (const blob of blobs) this.streams.set(blob.stream, pending);
      return;
    }
    job.lastSeq = Math.max(job.lastSeq, seq);
    switch (message.type) {
      case "accepted":
        job.handlers.onAccepted?.(message);
        return;
      case "progress":
        job.handlers.onProgress?.(message);
        return;
      case "done":
        this.finish(job, { state: "done", done: message, results: job.results });
        return;
      case "cancelled":
        this.finish(job, { state: "cancelled", results: job.results });
        return;
      case "error":
        this.finish(job, { state: "error", error: message, results: job.results });
    }
  }

  private deliverBlobs(pending: PendingBlobs): void {
    const { message } = pending;
    const job = this.jobs.get(message.job_id);
    if (!job) return;
    job.lastSeq = Math.max(job.lastSeq, message.seq);
    const bytes = (blob: Blob): Uint8Array => pending.assemblers.get(blob.stream)!.data();
    if (message.type === "preview") {
      job.handlers.onPreview?.(message, bytes(message.image));
      return;
    }
    const result = { message, pixels: bytes(message.pixels), mask: bytes(message.mask) };
    job.results.push(result);
    job.handlers.onResult?.(result);
  }

  private finish(job: JobState, outcome: JobOutcome): void {
    job.finished = true;
    job.resolve(outcome);
  }

  private failRequests(error: AgentError): void {
    // A job-less error answers the oldest open request, if any; otherwise it is reported.
    const plan = this.plans.entries().next();
    if (!plan.done) {
      this.plans.delete(plan.value[0]);
      plan.value[1].reject(error);
    } else if (this.listings.length) {
      this.listings.shift()!.reject(error);
    } else {
      this.onAgentError?.(error);
    }
  }
}

// Binary frames: a 4-byte big-endian header length, a UTF-8 JSON header
// {stream, index, count}, then the payload. Mirrors agent/underpaint/wire/frames.py.

export const DEFAULT_CHUNK_BYTES = 1 << 20;
const MAX_HEADER = 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class FrameError extends Error {
  constructor(readonly code: "bad_frame" | "chunk_out_of_order" | "upload_size_mismatch" | "unknown_stream", message: string) {
    super(message);
    this.name = "FrameError";
  }
}

export interface Chunk {
  stream: string;
  index: number;
  count: number;
  payload: Uint8Array;
}

export function encodeFrame(stream: string, index: number, count: number, payload: Uint8Array): Uint8Array {
  const header = encoder.encode(JSON.stringify({ stream, index, count }));
  const frame = new Uint8Array(4 + header.length + payload.length);
  new DataView(frame.buffer).setUint32(0, header.length, false);
  frame.set(header, 4);
  frame.set(payload, 4 + header.length);
  return frame;
}

export function* chunkFrames(stream: string, data: Uint8Array, chunkBytes = DEFAULT_CHUNK_BYTES): Generator<Uint8Array> {
  const count = Math.max(1, Math.ceil(data.length / chunkBytes));
  for (let index = 0; index < count; index++) {
    yield encodeFrame(stream, index, count, data.subarray(index * chunkBytes, (index + 1) * chunkBytes));
  }
}

export function decodeFrame(frame: ArrayBuffer | Uint8Array): Chunk {
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  if (bytes.length < 4) throw new FrameError("bad_frame", "A binary frame is shorter than its 4-byte header length.");
  const size = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, false);
  if (size > MAX_HEADER || 4 + size > bytes.length) {
    throw new FrameError("bad_frame", "A binary frame's header length is out of range.");
  }
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(4, 4 + size)));
  } catch {
    throw new FrameError("bad_frame", "A binary frame's header is not the protocol's JSON.");
  }
  const { stream, index, count } = (header ?? {}) as Record<string, unknown>;
  if (typeof stream !== "string" || !stream || !Number.isInteger(index) || !Number.isInteger(count)) {
    throw new FrameError("bad_frame", "A binary frame's header has fields of the wrong type.");
  }
  if ((index as number) < 0 || (index as number) >= (count as number)) {
    throw new FrameError("bad_frame", `Chunk index ${String(index)} is outside 0..${(count as number) - 1}.`);
  }
  return { stream, index: index as number, count: count as number, payload: bytes.subarray(4 + size) };
}

/** Collects one announced stream's chunks, in order, into a buffer of the announced size. */
export class StreamAssembler {
  private readonly buffer: Uint8Array;
  private filled = 0;
  private nextIndex = 0;
  complete = false;

  constructor(readonly stream: string, readonly expectedBytes: number) {
    this.buffer = new Uint8Array(expectedBytes);
  }

  add(chunk: Chunk): void {
    if (chunk.stream !== this.stream) throw new FrameError("unknown_stream", `Chunk of '${chunk.stream}' given to '${this.stream}'.`);
    if (chunk.index !== this.nextIndex) {
      throw new FrameError("chunk_out_of_order", `Stream '${this.stream}' expected chunk ${this.nextIndex} but got ${chunk.index}.`);
    }
    const end = this.filled + chunk.payload.length;
    if (end > this.expectedBytes) {
      throw new FrameError("upload_size_mismatch", `Stream '${this.stream}' sent more than the ${this.expectedBytes} bytes it announced.`);
    }
    this.buffer.set(chunk.payload, this.filled);
    this.filled = end;
    this.nextIndex += 1;
    if (this.nextIndex === chunk.count) {
      if (this.filled !== this.expectedBytes) {
        throw new FrameError("upload_size_mismatch", `Stream '${this.stream}' ended after ${this.filled} of ${this.expectedBytes} bytes.`);
      }
      this.complete = true;
    }
  }

  data(): Uint8Array {
    return this.buffer;
  }
}

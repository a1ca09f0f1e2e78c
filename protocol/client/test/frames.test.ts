import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { chunkFrames, decodeFrame, encodeFrame, FrameError, StreamAssembler } from "../src/frames.js";

const framesDir = new URL("../../examples/frames/", import.meta.url);

describe("binary frames", () => {
  it("round-trips a frame", () => {
    const chunk = decodeFrame(encodeFrame("s", 2, 5, new Uint8Array([1, 2, 3])));
    expect([chunk.stream, chunk.index, chunk.count, [...chunk.payload]]).toEqual(["s", 2, 5, [1, 2, 3]]);
  });

  it("chunks a payload and reassembles it in order", () => {
    const data = Uint8Array.from({ length: 10_000 }, (_, i) => i % 251);
    const assembler = new StreamAssembler("s", data.length);
    const frames = [...chunkFrames("s", data, 4096)];
    expect(frames).toHaveLength(3);
    for (const frame of frames) assembler.add(decodeFrame(frame));
    expect(assembler.complete).toBe(true);
    expect(assembler.data()).toEqual(data);
  });

  it("refuses chunks out of order", () => {
    const frames = [...chunkFrames("s", new Uint8Array(10), 4)];
    const assembler = new StreamAssembler("s", 10);
    expect(() => assembler.add(decodeFrame(frames[1]))).toThrowError(FrameError);
  });

  it("refuses more bytes than announced", () => {
    const assembler = new StreamAssembler("s", 3);
    expect(() => assembler.add(decodeFrame(encodeFrame("s", 0, 1, new Uint8Array(4))))).toThrow(/more than/);
  });

  it("refuses a header that is not JSON", () => {
    expect(() => decodeFrame(new Uint8Array([0, 0, 0, 3, 1, 2, 3]))).toThrow(/header/);
  });

  it("decodes the protocol's example frames byte for byte", () => {
    const examples = readdirSync(framesDir).filter((f) => f.endsWith(".bin"));
    expect(examples.length).toBeGreaterThan(0);
    for (const name of examples) {
      const bytes = new Uint8Array(readFileSync(new URL(name, framesDir)));
      const described = JSON.parse(readFileSync(new URL(name.replace(/\.bin$/, ".json"), framesDir), "utf8"));
      const chunk = decodeFrame(bytes);
      expect({ stream: chunk.stream, index: chunk.index, count: chunk.count }).toEqual(described.header);
      expect(encodeFrame(chunk.stream, chunk.index, chunk.count, chunk.payload)).toEqual(bytes);
    }
  });
});

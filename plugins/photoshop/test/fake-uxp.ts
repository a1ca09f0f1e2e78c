// A recording fake of `require("uxp").storage`'s file picker, following
// @adobe/cc-ext-uxp-types: getFileForOpening(options) answers with the files
// queued for it (nothing once they run out, as a cancelled picker does), and
// each File reads as an ArrayBuffer for formats.binary. Runs in Node and Chromium.

import type { UxpFile, UxpStorage } from "../src/uxp-files.js";

export class FakeUxpStorage implements UxpStorage {
  readonly formats = { binary: Symbol("binary"), utf8: Symbol("utf8") };
  /** Each picker call's options, and each read's options, in order. */
  readonly calls: { fn: string; args: Record<string, unknown> }[] = [];
  private readonly queued: { name: string; bytes: Uint8Array }[] = [];
  readonly localFileSystem = {
    getFileForOpening: async (options: Parameters<UxpStorage["localFileSystem"]["getFileForOpening"]>[0]): Promise<UxpFile | undefined> => {
      this.calls.push({ fn: "localFileSystem.getFileForOpening", args: { ...options } });
      const next = this.queued.shift();
      return next && this.file(next.name, next.bytes);
    },
  };

  /** The file the next picker call returns, as if the user chose it. */
  willPick(name: string, bytes: Uint8Array): void {
    this.queued.push({ name, bytes });
  }

  private file(name: string, bytes: Uint8Array): UxpFile {
    return {
      name,
      read: async (options: { format?: symbol }) => {
        this.calls.push({ fn: "File.read", args: { name, format: options.format === this.formats.binary ? "binary" : "utf8" } });
        if (options.format !== this.formats.binary) return new TextDecoder().decode(bytes);
        return bytes.slice().buffer;
      },
    };
  }
}

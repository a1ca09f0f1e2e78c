// The UXP file picker behind `FilePicker`: `require("uxp").storage` goes in
// from main.ts, a recording fake in tests. Files are read as binary, as picked;
// nothing is written.

import type { storage } from "uxp";
import type { FilePicker } from "./host.js";

/** A picked file: @types' storage.File, with the name every Entry has. */
export type UxpFile = Pick<storage.File, "read"> & { name: string };

/**
 * The parts of `require("uxp").storage` used here. At run time `localFileSystem`
 * is a FileSystemProvider on `storage`; the typings (7.3) declare the class only.
 */
export interface UxpStorage {
  localFileSystem: { getFileForOpening(options: Parameters<storage.FileSystemProvider["getFileForOpening"]>[0]): Promise<UxpFile | UxpFile[] | null | undefined> };
  formats: { binary: symbol };
}

export function createFilePicker(uxp: UxpStorage): FilePicker {
  return {
    async pickFile(types) {
      const picked = await uxp.localFileSystem.getFileForOpening({ types, allowMultiple: false });
      // A cancelled picker answers with nothing (or an empty list).
      const file = Array.isArray(picked) ? picked[0] : picked;
      if (!file) return null;
      const data: unknown = await file.read({ format: uxp.formats.binary });
      if (!(data instanceof ArrayBuffer)) throw new Error(`UXP read ${file.name} as text, not bytes.`);
      return { name: file.name, bytes: new Uint8Array(data) };
    },
  };
}

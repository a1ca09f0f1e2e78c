// Each document's jobs, newest first, kept in plugin storage keyed by the
// document's path (its id for a document never saved, which cannot outlive
// the session anyway), so "use this recipe again" works after Photoshop
// restarts, and a selected Underpaint layer finds the recipe that made it.

import type { Recipe } from "./protocol.js";

export interface HistoryEntry {
  jobId: string;
  label: string;
  layers: number;
  recipe: Recipe;
  /** Ids of the placed group and its layers: Photoshop keeps layer ids in the saved file. */
  layerIds: number[];
}

/** What the history needs of storage: UXP's localStorage in the plugin, the browser's in the Chromium test. */
export type HistoryStorage = Pick<Storage, "getItem" | "setItem">;

/** Which document: its path when it has been saved, else its id. */
export interface DocumentKey {
  id: number;
  path: string;
}

const PREFIX = "underpaint.history:";

export function storageKey(doc: DocumentKey): string {
  return doc.path ? `${PREFIX}path:${doc.path}` : `${PREFIX}id:${doc.id}`;
}

export class JobHistory {
  constructor(private readonly storage: HistoryStorage, private readonly keep = 20) {}

  add(doc: DocumentKey, entry: HistoryEntry): void {
    const list = [entry, ...this.list(doc).filter((e) => e.jobId !== entry.jobId)];
    this.storage.setItem(storageKey(doc), JSON.stringify(list.slice(0, this.keep)));
  }

  /** The document's entries; none when storage holds nothing usable for it (a damaged value is not fatal). */
  list(doc: DocumentKey | null): HistoryEntry[] {
    if (!doc) return [];
    try {
      const value: unknown = JSON.parse(this.storage.getItem(storageKey(doc)) ?? "[]");
      return Array.isArray(value) ? value.filter(isEntry) : [];
    } catch {
      return [];
    }
  }

  /** The entry whose placed layers include one of `layerIds` (the selected layers and their groups). */
  findByLayer(doc: DocumentKey, layerIds: readonly number[]): HistoryEntry | undefined {
    return this.list(doc).find((e) => e.layerIds.some((id) => layerIds.includes(id)));
  }
}

function isEntry(value: unknown): value is HistoryEntry {
  const e = value as Partial<HistoryEntry> | null;
  return typeof e?.jobId === "string" && typeof e.label === "string" && typeof e.recipe === "object" && e.recipe !== null && Array.isArray(e.layerIds);
}

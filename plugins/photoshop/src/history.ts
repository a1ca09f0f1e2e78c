// The jobs run on each open document in this session, newest first, so the
// panel can show "this document's jobs" and offer their recipes again.

import type { Recipe } from "./protocol.js";

export interface HistoryEntry {
  jobId: string;
  label: string;
  layers: number;
  recipe: Recipe;
}

export class JobHistory {
  private readonly byDocument = new Map<number, HistoryEntry[]>();

  constructor(private readonly keep = 20) {}

  add(documentId: number, entry: HistoryEntry): void {
    const list = [entry, ...(this.byDocument.get(documentId) ?? []).filter((e) => e.jobId !== entry.jobId)];
    this.byDocument.set(documentId, list.slice(0, this.keep));
  }

  list(documentId: number | null): HistoryEntry[] {
    return documentId === null ? [] : (this.byDocument.get(documentId) ?? []);
  }

  find(jobId: string): HistoryEntry | undefined {
    for (const list of this.byDocument.values()) {
      const entry = list.find((e) => e.jobId === jobId);
      if (entry) return entry;
    }
    return undefined;
  }
}

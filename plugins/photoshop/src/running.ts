// The jobs sent but not yet placed, kept in plugin storage, so a panel closed
// (or a Photoshop restarted) mid-job resumes them when it opens again and puts
// each result into the document it was made for.

import type { Mode } from "./protocol.js";
import type { Sides } from "./geometry.js";
import type { HistoryStorage } from "./history.js";
import type { PlacementDepth } from "./modes.js";

export interface RunningJob {
  jobId: string;
  /** The job's document: its id in this Photoshop session, its path across sessions ("" when never saved), its title for messages. */
  document: { id: number; path: string; title: string };
  /** Resume replays the events after this one: the last seq before the first result, since nothing is placed until all are in. */
  afterSeq: number;
  /** What placing needs of the request: the group's and history state's name, Expand's margins, the document's depth. */
  mode: Mode;
  prompt: string;
  expand: Sides;
  depth: PlacementDepth;
  /** The history entry's label once placed. */
  label: string;
}

const KEY = "underpaint.running";

export class RunningJobs {
  constructor(private readonly storage: HistoryStorage) {}

  /** Every stored job; none when storage holds nothing usable (a damaged value is not fatal). */
  list(): RunningJob[] {
    try {
      const value: unknown = JSON.parse(this.storage.getItem(KEY) ?? "[]");
      return Array.isArray(value) ? value.filter(isRunningJob) : [];
    } catch {
      return [];
    }
  }

  put(job: RunningJob): void {
    this.write([...this.list().filter((j) => j.jobId !== job.jobId), job]);
  }

  /** Records that every event up to `seq` was handled; never moves back. */
  advance(jobId: string, seq: number): void {
    const jobs = this.list();
    const job = jobs.find((j) => j.jobId === jobId);
    if (!job || seq <= job.afterSeq) return;
    job.afterSeq = seq;
    this.write(jobs);
  }

  remove(jobId: string): void {
    const jobs = this.list();
    if (jobs.some((j) => j.jobId === jobId)) this.write(jobs.filter((j) => j.jobId !== jobId));
  }

  private write(jobs: RunningJob[]): void {
    this.storage.setItem(KEY, JSON.stringify(jobs));
  }
}

function isRunningJob(value: unknown): value is RunningJob {
  const j = value as Partial<RunningJob> | null;
  const d = j?.document;
  return typeof j?.jobId === "string" && Number.isInteger(j.afterSeq) && typeof j.mode === "string" && typeof j.prompt === "string" &&
    typeof j.label === "string" && (j.depth === 8 || j.depth === 16) && typeof j.expand === "object" && j.expand !== null &&
    typeof d === "object" && d !== null && Number.isInteger(d.id) && typeof d.path === "string" && typeof d.title === "string";
}

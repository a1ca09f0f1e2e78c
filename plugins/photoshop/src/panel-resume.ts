// Jobs a closed panel left running: when the panel opens again (or Photoshop
// restarts), each stored job is resumed from its last handled event with the
// shared client's `resume`, and its results go into the document it came from,
// found by id in this session or by path across sessions.

import type { AgentClient } from "./protocol.js";
import type { JobHistory } from "./history.js";
import type { DocumentInfo, Host } from "./host.js";
import { placementFor } from "./job.js";
import type { RunningJob, RunningJobs } from "./running.js";

export interface ResumeOptions {
  host: Host;
  running: RunningJobs;
  history: JobHistory;
  /** Jobs this panel follows already (the one Generate started): not resumed twice. */
  following(): string[];
  notice(kind: "info" | "error" | "success", text: string): void;
  /** A resumed job's layers landed: the history list shows them. */
  placed(): void;
}

/** The open document a job belongs to: the same one in this session, or the file at its path after a restart. */
export function documentFor(job: RunningJob, open: readonly DocumentInfo[]): DocumentInfo | undefined {
  const { id, path } = job.document;
  return open.find((d) => d.id === id && d.path === path) ?? (path ? open.find((d) => d.path === path) : undefined);
}

export function resumeRunning(client: AgentClient, options: ResumeOptions): Promise<void>[] {
  const { host, running, history } = options;
  const following = new Set(options.following());
  return running.list().filter((job) => !following.has(job.jobId)).map(async (job) => {
    const outcome = await client.resume(job.jobId, job.afterSeq);
    if (outcome.state === "cancelled") {
      running.remove(job.jobId);
      return options.notice("info", `The job for ${job.document.title} was cancelled; nothing was placed.`);
    }
    if (outcome.state === "error") {
      running.remove(job.jobId);
      return options.notice("error", `The job for ${job.document.title} did not finish: ${outcome.error.message}`);
    }
    const document = documentFor(job, await host.documents());
    if (!document) {
      // Kept: opening the document and then the panel again places the results.
      return options.notice("info", `Results for ${job.document.title} are ready, but it is not open: open it, then reopen this panel to place them.`);
    }
    const layerIds = await host.place(document.id, placementFor(job, job.depth, outcome.results));
    running.remove(job.jobId);
    history.add({ id: document.id, path: document.path }, {
      jobId: job.jobId, label: job.label, layers: outcome.results.length, recipe: outcome.done.recipe, layerIds,
    });
    const layers = `${outcome.results.length} layer${outcome.results.length === 1 ? "" : "s"}`;
    options.notice("success", `Placed ${layers} of the job that was running when the panel closed into ${document.title}.`);
    options.placed();
  });
}

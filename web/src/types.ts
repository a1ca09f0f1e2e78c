// The JSON the agent's page routes answer with (agent/underpaint/server/dashboard_*.py).

export type Verdict = "pick" | "reject";
export type Keep = "starred" | "picked" | "rejected";

export interface Pick {
  variant: number;
  starred: boolean;
  verdict: Verdict | null;
  note: string;
}

export interface GalleryJob {
  job_id: string;
  state: string;
  mode: string;
  prompt: string;
  variants: number;
  client: string;
  source: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  engine_seconds: number | null;
  /** Where the engine ran (device/dtype), as recorded when the job ran; null for jobs from before. */
  device: string | null;
  error_code: string | null;
  error_message: string | null;
  set_id: string | null;
  engine: string | null;
  model: string | null;
  style: string | null;
  seeds: number[];
  picks: Pick[];
}

export interface JobDetail extends GalleryJob {
  recipe: Record<string, unknown> | null;
  psd: boolean;
  variants_on_disk: number[];
}

export interface GalleryPage {
  jobs: GalleryJob[];
  next: string | null;
}

export interface Facets {
  modes: string[];
  models: string[];
  styles: string[];
  sources: string[];
  sets: string[];
}

export interface Cost {
  key: string;
  engine: string | null;
  jobs: number;
  variants: number;
  engine_seconds: number;
}

export interface CostReport {
  days: Cost[];
  sets: Cost[];
}

export interface LiveJob {
  job_id: string;
  state: "running" | "saving" | "queued";
  mode: string;
  prompt: string;
  variants: number;
  client: string;
  source: string;
  set_id: string | null;
  engine: string;
  position: number | null;
  fraction: number;
  variant: number;
  step: number;
  steps: number;
  /** Variant index -> seq of its newest picture. */
  pictures: Record<string, number>;
}

export interface ModelDetails {
  name: string;
  description: string;
  loras: string[];
  controlnets: { name: string; kind: string }[];
  preprocessors: string[];
  ip_adapters: string[];
}

export interface Library {
  capabilities: {
    default_engine: string;
    engines: { name: string; description: string; modes: string[]; models: string[]; model_details: ModelDetails[] }[];
    styles: { name: string; description: string; model: string | null }[];
  };
  devices: Record<string, string>;
}

/** One variant of one job: what the gallery selects, stars and compares. */
export interface VariantRef {
  jobId: string;
  variant: number;
}

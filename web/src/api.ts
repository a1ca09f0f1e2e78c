// The agent's page routes, called with the session cookie (same origin; the browser adds it).
import { galleryQuery, type Filters } from "./filters.js";
import type { CostReport, Facets, GalleryJob, GalleryPage, JobDetail, Library, Pick } from "./types.js";

export const API = "/dashboard/api";

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(API + path, { credentials: "same-origin", ...init });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = (body ?? {}) as { error?: string; message?: string };
    throw new ApiError(response.status, error.error ?? "http_error", error.message ?? `${response.status} ${response.statusText}`);
  }
  return body as T;
}

function post<T>(path: string, body: unknown): Promise<T> {
  return call<T>(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

const job = (id: string) => `/jobs/${encodeURIComponent(id)}`;

export const api = {
  session: () => call<{ signed_in: boolean; token_required: boolean }>("/session"),
  signIn: (token: string) => post<{ signed_in: boolean }>("/session", { token }),
  signOut: () => post<{ signed_in: boolean }>("/session/end", {}),
  page: (filters: Filters, before: string | null) => call<GalleryPage>(`/jobs?${galleryQuery(filters, before)}`),
  facets: () => call<Facets>("/facets"),
  job: (id: string) => call<JobDetail>(job(id)),
  recipeText: async (id: string) => (await fetch(`${API}${job(id)}/recipe`, { credentials: "same-origin" })).text(),
  setPick: (id: string, pick: Pick) => post<GalleryJob>(`${job(id)}/picks/${pick.variant}`, { starred: pick.starred, verdict: pick.verdict, note: pick.note }),
  cancel: (id: string) => post<{ status: string }>(`${job(id)}/cancel`, {}),
  rerun: (id: string, changes: Record<string, unknown>) => post<{ job_id: string }>(`${job(id)}/rerun`, changes),
  cost: () => call<CostReport>("/cost"),
  library: () => call<Library>("/library"),
};

export const files = {
  thumbnail: (id: string, variant: number) => `${API}${job(id)}/files/thumb-${variant + 1}.webp`,
  variant: (id: string, variant: number) => `${API}${job(id)}/files/variant-${variant + 1}.png`,
  source: (id: string) => `${API}${job(id)}/files/source.png`,
  psd: (id: string) => `${API}${job(id)}/files/result.psd`,
  live: (id: string, variant: number, seq: number) => `${API}${job(id)}/live/${variant}?seq=${seq}`,
  picksZip: (set: string) => `${API}/sets/${encodeURIComponent(set)}/picks.zip`,
  liveStream: () => `${API}/live`,
};

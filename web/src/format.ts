// How the page writes numbers and times.

export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  if (value < 60) return `${value.toFixed(value < 10 ? 2 : 1)} s`;
  const minutes = Math.floor(value / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(value - minutes * 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function when(epochSeconds: number, now: Date = new Date()): string {
  const date = new Date(epochSeconds * 1000);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (date.toDateString() === now.toDateString()) return `today ${time}`;
  return `${date.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" })} ${time}`;
}

export function percent(fraction: number): string {
  return `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)} %`;
}

/** The brief a job is shown by: its prompt, or its mode when it had none. */
export function brief(prompt: string, mode: string): string {
  const text = prompt.trim();
  return text || mode.charAt(0).toUpperCase() + mode.slice(1);
}

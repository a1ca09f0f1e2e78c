export const webDir: string;
export const pageDir: string;
export function buildPage(): Promise<Record<"page.js" | "index.html" | "page.css", string>>;

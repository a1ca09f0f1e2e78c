export const pluginDir: string;
export const distDir: string;
export function buildPanel(options?: { outdir?: string; entry?: string; minify?: boolean }): Promise<string>;

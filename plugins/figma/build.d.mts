// Types of build.mjs for the tests that build the plugin first.
export function build(options?: { minify?: boolean }): Promise<{ main: string; ui: string }>;

// Bundles the plugin into dist/: main.js for Figma's main thread and ui.html
// with the UI script inlined (Figma loads the UI as one HTML string).
import { build as esbuild } from "esbuild";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));

/** Write then rename: tests build in parallel workers, and a reader never sees half a file. */
function writeAtomic(path, text) {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}

export async function build({ minify = true } = {}) {
  const dist = join(root, "dist");
  mkdirSync(dist, { recursive: true });
  // Figma's main-thread sandbox runs ES2020; the UI iframe is a current Chromium/Electron.
  const main = await esbuild({
    entryPoints: [join(root, "src/main/main.ts")], bundle: true, format: "iife", target: "es2020",
    write: false, minify, logLevel: "warning",
  });
  writeAtomic(join(dist, "main.js"), main.outputFiles[0].text);
  const ui = await esbuild({
    entryPoints: [join(root, "src/ui/ui.ts")], bundle: true, format: "iife", target: "chrome110",
    write: false, minify, logLevel: "warning",
  });
  // "</script" inside the code would end the inline script early.
  const script = ui.outputFiles[0].text.replace(/<\/script/gi, "<\\/script");
  const html = readFileSync(join(root, "src/ui/ui.html"), "utf8").replace("<!-- SCRIPT -->", () => `<script>${script}</script>`);
  writeAtomic(join(dist, "ui.html"), html);
  return { main: join(dist, "main.js"), ui: join(dist, "ui.html") };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await build();
  console.log(`built ${out.main} and ${out.ui}`);
}

// Bundles the panel into plugins/photoshop/dist/, the folder UXP Developer Tool
// loads and package.mjs zips into a .ccx. `photoshop` and `uxp` stay external:
// UXP provides them through require().
import { build } from "esbuild";
import { encode } from "fast-png";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const pluginDir = join(dirname(fileURLToPath(import.meta.url)), "..");
export const distDir = join(pluginDir, "dist");

/** A brush-stroke icon, drawn here so the repository holds no binary files. */
function icon(size) {
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = x / (size - 1), v = y / (size - 1);
      const stroke = Math.abs(u + v - 1) < 0.22 && Math.hypot(u - 0.5, v - 0.5) < 0.45;
      const i = (y * size + x) * 4;
      data.set(stroke ? [240, 240, 240, 255] : [46 + 120 * u, 110 + 60 * v, 200, 255], i);
    }
  }
  return encode({ width: size, height: size, data, channels: 4, depth: 8 });
}

/**
 * Builds a panel folder: the bundle of `entry` as index.js beside the HTML, CSS,
 * manifest and icons. The Chromium test builds the same panel with a harness entry.
 */
export async function buildPanel({ outdir = distDir, entry = join(pluginDir, "src/main.ts"), minify = true } = {}) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(join(outdir, "icons"), { recursive: true });
  await build({
    entryPoints: [entry],
    outfile: join(outdir, "index.js"),
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    external: ["photoshop", "uxp"],
    minify,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
  for (const file of ["index.html", "panel.css"]) copyFileSync(join(pluginDir, "src", file), join(outdir, file));
  copyFileSync(join(pluginDir, "manifest.json"), join(outdir, "manifest.json"));
  for (const [name, size] of [["panel", 23], ["plugin", 48]]) {
    writeFileSync(join(outdir, "icons", `${name}.png`), icon(size));
    writeFileSync(join(outdir, "icons", `${name}@2x.png`), icon(size * 2));
  }
  return outdir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildPanel();
  console.log(`built ${distDir}`);
}

// Builds dist/ and zips it into an installable .ccx (a zip of the plugin
// folder with manifest.json at its root). Double-click it, or use UXP
// Developer Tool / Creative Cloud to install.
import { zipSync } from "fflate";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { buildPanel, distDir, pluginDir } from "./build.mjs";

// One fixed time on every entry, so the same dist/ always zips to the same bytes.
const MTIME = new Date(1980, 0, 1);

function files(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

export async function packagePlugin() {
  await buildPanel();
  const manifest = JSON.parse(readFileSync(join(distDir, "manifest.json"), "utf8"));
  const out = join(pluginDir, `underpaint-photoshop-${manifest.version}.ccx`);
  const entries = Object.fromEntries(files(distDir).map((path) => [relative(distDir, path).split("\\").join("/"), readFileSync(path)]));
  writeFileSync(out, zipSync(entries, { level: 9, mtime: MTIME }));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`packaged ${await packagePlugin()}`);
}

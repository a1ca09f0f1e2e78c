// Bundles the agent's page (web/src) into the Python package, which serves it at `/`:
// agent/underpaint/server/dashboard_page/{index.html,page.css,page.js}. The bundle is kept in the
// repository so `make run` needs no Node; `--check` (run by `make test`) fails when it is stale.
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const webDir = dirname(fileURLToPath(import.meta.url));
export const pageDir = join(webDir, "../agent/underpaint/server/dashboard_page");
const BANNER = "// Built by web/build.mjs from web/src: edit those, then run `node web/build.mjs`.";

/** The page's files by name, as they are served. */
export async function buildPage() {
  const bundle = await build({
    entryPoints: [join(webDir, "src/main.ts")],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: "es2022",
    minify: false,
    legalComments: "none",
    banner: { js: BANNER },
    logLevel: "warning",
  });
  return {
    "page.js": bundle.outputFiles[0].text,
    "index.html": readFileSync(join(webDir, "src/index.html"), "utf8"),
    "page.css": readFileSync(join(webDir, "src/page.css"), "utf8"),
  };
}

function stale(files) {
  return Object.entries(files).filter(([name, text]) => {
    try {
      return readFileSync(join(pageDir, name), "utf8") !== text;
    } catch {
      return true;
    }
  }).map(([name]) => name);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await buildPage();
  if (process.argv.includes("--check")) {
    const outdated = stale(files);
    if (outdated.length) {
      console.error(`The agent's page is stale (${outdated.join(", ")}): run \`node web/build.mjs\` and commit the result.`);
      process.exit(1);
    }
  } else {
    mkdirSync(pageDir, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(pageDir, name), text);
    console.log(`built ${pageDir}`);
  }
}

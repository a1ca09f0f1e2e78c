// The plugin folder and the .ccx against UXP's manifest v5 rules: host and
// version, explicit network permissions for the agent's port (UXP refuses
// wildcards), entry points that exist, icons, and a bundle that asks UXP for
// `photoshop` and `uxp` rather than bundling anything in their place.
import { decode } from "fast-png";
import { unzipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { distDir, pluginDir } from "../scripts/build.mjs";
import { packagePlugin } from "../scripts/package.mjs";

interface Manifest {
  manifestVersion: number;
  id: string;
  name: string;
  version: string;
  main: string;
  host: { app: string; minVersion: string };
  entrypoints: { type: string; id: string; label: { default: string }; icons?: { path: string }[] }[];
  icons?: { path: string }[];
  requiredPermissions: { network: { domains: string[] } } & Record<string, unknown>;
}

const AGENT_DOMAINS = ["ws://localhost:7433", "ws://127.0.0.1:7433", "http://localhost:7433", "http://127.0.0.1:7433"];

function checkManifest(manifest: Manifest, has: (path: string) => boolean, read: (path: string) => string): void {
  expect(manifest.manifestVersion).toBe(5);
  expect(manifest.id).toMatch(/^[a-z0-9.]+$/);
  expect(manifest.host.app).toBe("PS");
  const [major] = manifest.host.minVersion.split(".").map(Number);
  expect(major).toBeGreaterThanOrEqual(25); // imaging API and Document.selection
  expect([...manifest.requiredPermissions.network.domains].sort()).toEqual([...AGENT_DOMAINS].sort());
  expect(manifest.requiredPermissions.network.domains.join(" ")).not.toMatch(/\*/);
  expect(Object.keys(manifest.requiredPermissions)).toEqual(["network"]);
  expect(has(manifest.main)).toBe(true);
  const html = read(manifest.main);
  expect(html).toContain('<script src="index.js"></script>');
  const bundle = read("index.js");
  expect(bundle).toMatch(/\("photoshop"\)/);
  expect(bundle).toMatch(/\("uxp"\)/);
  const panels = manifest.entrypoints.filter((e) => e.type === "panel");
  expect(panels).toHaveLength(1);
  // main.ts registers the panel under the manifest's entrypoint id.
  expect(bundle).toContain(panels[0].id);
  for (const icon of [...(manifest.icons ?? []), ...manifest.entrypoints.flatMap((e) => e.icons ?? [])]) {
    expect(has(icon.path), icon.path).toBe(true);
    expect(has(icon.path.replace(/\.png$/, "@2x.png")), icon.path).toBe(true);
  }
}

describe("plugin package", () => {
  let ccx: string;
  beforeAll(async () => {
    ccx = await packagePlugin();
  }, 60_000);

  it("the unpacked folder (dist/) follows the manifest rules", () => {
    const manifest = JSON.parse(readFileSync(join(distDir, "manifest.json"), "utf8")) as Manifest;
    expect(manifest).toEqual(JSON.parse(readFileSync(join(pluginDir, "manifest.json"), "utf8")));
    checkManifest(manifest, (p) => existsSync(join(distDir, p)), (p) => readFileSync(join(distDir, p), "utf8"));
  });

  it("the .ccx holds the same folder with manifest.json at its root", () => {
    // The .ccx as UXP would see it: every entry, inflated.
    const files = new Map(Object.entries(unzipSync(readFileSync(ccx))).map(([name, data]) => [name, Buffer.from(data)]));
    expect([...files.keys()].sort()).toEqual(["icons/panel.png", "icons/panel@2x.png", "icons/plugin.png", "icons/plugin@2x.png", "index.html", "index.js", "manifest.json", "panel.css"]);
    for (const [name, data] of files) expect(data.equals(readFileSync(join(distDir, name))), name).toBe(true);
    const manifest = JSON.parse(files.get("manifest.json")!.toString("utf8")) as Manifest;
    checkManifest(manifest, (p) => files.has(p), (p) => files.get(p)!.toString("utf8"));
    expect(ccx).toMatch(new RegExp(`underpaint-photoshop-${manifest.version}\\.ccx$`));
  });

  it("icons are real PNGs of the declared size", () => {
    const icon = decode(readFileSync(join(distDir, "icons/panel@2x.png")), { checkCrc: true });
    expect([icon.width, icon.height, icon.channels, icon.depth]).toEqual([46, 46, 4, 8]);
  });
});

// The manifest Figma reads: network domains, page access, relaunch buttons and
// the built files it points at.
import { existsSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { RELAUNCH_COMMANDS } from "../src/main/keys.js";
import { DEFAULT_AGENT_URL } from "../src/main/plugin.js";
import { build } from "../build.mjs";

const root = new URL("../", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("manifest.json", root), "utf8")) as {
  editorType: string[]; documentAccess: string; main: string; ui: string;
  networkAccess: { allowedDomains: string[]; reasoning: string };
  relaunchButtons: { command: string; name: string }[];
};

describe("manifest.json", () => {
  beforeAll(async () => {
    await build();
  });

  it("is a Figma design plugin with dynamic page loading", () => {
    expect(manifest.editorType).toEqual(["figma"]);
    expect(manifest.documentAccess).toBe("dynamic-page");
  });

  it("lists the agent's fixed port, and nothing else, with a reason", () => {
    expect(manifest.networkAccess.allowedDomains.sort()).toEqual(["http://localhost:7433", "ws://localhost:7433"]);
    expect(manifest.networkAccess.reasoning.length).toBeGreaterThan(20);
    expect(DEFAULT_AGENT_URL.startsWith("ws://localhost:7433/")).toBe(true);
  });

  it("offers Regenerate and Vary as relaunch buttons, matching the data set on nodes", () => {
    expect(manifest.relaunchButtons).toEqual([{ command: "regenerate", name: "Regenerate" }, { command: "vary", name: "Vary" }]);
    expect(manifest.relaunchButtons.map((b) => b.command)).toEqual([...RELAUNCH_COMMANDS]);
  });

  it("points at the built main thread and a single-file UI", () => {
    expect(existsSync(new URL(manifest.main, root))).toBe(true);
    const html = readFileSync(new URL(manifest.ui, root), "utf8");
    expect(html).toContain("<script>");
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toContain("<!-- SCRIPT -->");
  });

  it("keeps the main thread free of network and DOM APIs", () => {
    const main = readFileSync(new URL(manifest.main, root), "utf8");
    for (const api of ["WebSocket", "fetch(", "document.", "XMLHttpRequest"]) expect(main).not.toContain(api);
  });
});

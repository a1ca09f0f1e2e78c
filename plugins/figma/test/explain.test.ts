import { describe, expect, it } from "vitest";
import { explainConnectFailure, explainJobError, type ConnectFailure } from "../src/core/explain.js";

const base: ConnectFailure = { code: "unreachable", message: "", agentUrl: "ws://localhost:7433/v1/ws", desktop: true, localNetwork: "unknown", chromeMajor: 0 };

describe("connection failures in sentences", () => {
  it("tells the desktop app's user how to start the agent", () => {
    const text = explainConnectFailure(base);
    expect(text).toContain("Cannot reach the agent at ws://localhost:7433");
    expect(text).toContain("make run");
    expect(text).not.toContain("Chrome");
  });

  it("says a browser blocks localhost when Chrome's permission is denied", () => {
    const text = explainConnectFailure({ ...base, desktop: false, localNetwork: "denied", chromeMajor: 142 });
    expect(text).toContain("your browser is blocking this panel");
    expect(text).toContain("local network access");
    expect(text).toContain("desktop app is the supported client");
  });

  it("names both causes when a recent Chrome tab cannot tell them apart", () => {
    const text = explainConnectFailure({ ...base, desktop: false, localNetwork: "prompt", chromeMajor: 150 });
    expect(text).toContain("make run");
    expect(text).toContain("may be blocking this panel");
  });

  it("does not blame the browser when the permission is granted or the browser is older", () => {
    expect(explainConnectFailure({ ...base, desktop: false, localNetwork: "granted", chromeMajor: 150 })).not.toContain("browser");
    expect(explainConnectFailure({ ...base, desktop: false, chromeMajor: 120 })).not.toContain("browser");
  });

  it("asks for the token again when it is refused or missing", () => {
    expect(explainConnectFailure({ ...base, code: "unauthorized" })).toContain("underpaint token");
    expect(explainConnectFailure({ ...base, code: "no_token" })).toContain("Pair");
  });
});

describe("job errors in sentences", () => {
  it("adds what to do to the agent's own sentence", () => {
    const text = explainJobError("unsupported_mode", "The classic engine cannot 'generate'.");
    expect(text).toContain("diffusion engine");
    expect(text).toContain("cannot 'generate'");
    expect(explainJobError("bad_image", "Bytes do not decode.")).toBe("Bytes do not decode.");
  });
});

// The UXP entry point: the real Photoshop and UXP modules go in here and
// nowhere else. UXP's WebSocket is the browser one; the token lives in
// secureStorage (encrypted by the OS), not localStorage.

import { action, app, constants, core, imaging } from "photoshop";
import { entrypoints, storage } from "uxp";
import { AGENT_URL } from "./connection.js";
import { startPanel, type TokenStore } from "./panel.js";
import { createPhotoshopHost, type PhotoshopModules } from "./photoshop-host.js";
import type { SocketLike } from "./protocol.js";
import { createFilePicker, type UxpStorage } from "./uxp-files.js";

const TOKEN_KEY = "underpaint.token";

// At run time secureStorage is `require("uxp").storage.secureStorage`; the
// typings (7.3) declare it at the module's top level instead.
interface SecureStorage {
  getItem(key: string): Promise<Uint8Array>;
  setItem(key: string, value: string): Promise<void>;
}
const secureStorage = (storage as unknown as { secureStorage: SecureStorage }).secureStorage;

const tokens: TokenStore = {
  async load() {
    try {
      return new TextDecoder().decode(await secureStorage.getItem(TOKEN_KEY));
    } catch {
      return "";
    }
  },
  async save(token) {
    await secureStorage.setItem(TOKEN_KEY, token);
  },
};

const modules: PhotoshopModules = { app, core, imaging, action, constants };
let started = false;

// UXP takes panels as a map keyed by the manifest's entrypoint id; the typings
// describe an array, hence the cast.
type Setup = Parameters<typeof entrypoints.setup>[0];
entrypoints.setup({
  panels: {
    underpaintPanel: {
      show() {
        if (started) return;
        started = true;
        startPanel({
          root: document,
          host: createPhotoshopHost(modules),
          tokens,
          socketFactory: (url) => new WebSocket(url) as unknown as SocketLike,
          url: AGENT_URL,
          // UXP keeps a plugin's localStorage between sessions: each document's jobs, and those
          // still running when the panel closed, outlive a restart.
          historyStorage: window.localStorage,
          // `localFileSystem` lives on `require("uxp").storage`, as secureStorage does.
          files: createFilePicker(storage as unknown as UxpStorage),
        });
      },
    },
  },
} as unknown as Setup);

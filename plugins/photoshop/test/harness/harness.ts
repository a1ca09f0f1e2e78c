// The panel as the Chromium test runs it: the real panel code and the real
// Photoshop adapter, over the recording fake instead of Photoshop, talking to the
// live agent through the browser's own WebSocket. `?ws=` names the agent.
import { startPanel } from "../../src/panel.js";
import { createPhotoshopHost } from "../../src/photoshop-host.js";
import type { SocketLike } from "../../src/protocol.js";
import { softEllipse, texturedRgba } from "../../../../protocol/client/test/images.js";
import { FakePhotoshop } from "../fake-photoshop.js";
import { installSpectrumShim } from "./spectrum-shim.js";

installSpectrumShim();
const params = new URLSearchParams(location.search);
const width = 320;
const height = 240;
const ps = new FakePhotoshop();
ps.addDocument({ id: 11, title: "harbour.psd", width, height, composite: texturedRgba(width, height), selection: softEllipse(width, height, [120, 80, 96, 72]) });
let stored = "";
const handle = startPanel({
  root: document,
  host: createPhotoshopHost(ps.modules(), { sleep: async () => undefined }),
  tokens: { load: async () => stored, save: async (t) => void (stored = t) },
  socketFactory: (url) => new WebSocket(url) as unknown as SocketLike,
  url: params.get("ws") ?? "ws://127.0.0.1:7433/v1/ws",
});

/** What the test reads back: the fake's calls, history and layer tree. */
(window as unknown as { underpaintTest: unknown }).underpaintTest = {
  state: () => handle.state(),
  document: () => {
    const doc = ps.documents[0];
    const layer = (l: (typeof doc.layers)[number]): unknown => ({
      name: l.name, kind: l.kind, visible: l.visible,
      bounds: l.pixels?.targetBounds ?? null, maskBounds: l.mask?.put?.targetBounds ?? null,
      pixelBytes: l.pixels?.imageData.data.length ?? 0, maskBytes: l.mask?.put?.imageData.data.length ?? 0,
      children: l.children.map(layer),
    });
    return { history: doc.history, layers: doc.layers.map(layer), calls: ps.names() };
  },
};

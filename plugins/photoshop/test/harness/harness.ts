// The panel as the Chromium test runs it: the real panel code and the real
// Photoshop adapter, over the recording fake instead of Photoshop, talking to the
// live agent through the browser's own WebSocket. `?ws=` names the agent.
import { startPanel } from "../../src/panel.js";
import { createPhotoshopHost } from "../../src/photoshop-host.js";
import type { SocketLike } from "../../src/protocol.js";
import { softEllipse, texturedRgba } from "../../../../protocol/client/test/images.js";
import { encode } from "fast-png";
import { createFilePicker } from "../../src/uxp-files.js";
import { FakePhotoshop } from "../fake-photoshop.js";
import { FakeUxpStorage } from "../fake-uxp.js";
import { installSpectrumShim } from "./spectrum-shim.js";

installSpectrumShim();
const params = new URLSearchParams(location.search);
const ps = new FakePhotoshop();
const uxp = new FakeUxpStorage();
if (params.get("scene") === "controls") {
  // Small, for the tiny diffusers model: a 96x96 document with a hand-drawn sketch layer to mark as a control.
  const side = 96;
  ps.addDocument({
    // A new id after a "restart" (the page reloaded), as Photoshop gives; the path stays.
    id: Number(params.get("doc") ?? 12), title: "kite.psd", path: "/Users/ana/kite.psd", width: side, height: side, composite: texturedRgba(side, side),
    selection: softEllipse(side, side, [48, 48, 30, 26]), layers: [{ name: "Kite sketch", content: sketch(side) }, { name: "Brand board", content: board(side) }],
  });
  // The file the UXP picker hands over when the user chooses one: a 24x16 PNG moodboard.
  uxp.willPick("moodboard.png", encode({ width: 24, height: 16, data: texturedRgba(24, 16), channels: 4, depth: 8 }));
  // Photoshop after the panel reopened: another document in front of the job's own.
  if (params.has("second")) ps.addDocument({ id: 13, title: "poster.psd", path: "/Users/ana/poster.psd", width: 40, height: 40, composite: texturedRgba(40, 40) });
} else {
  const width = 320;
  const height = 240;
  ps.addDocument({ id: 11, title: "harbour.psd", path: "/Users/ana/harbour.psd", width, height, composite: texturedRgba(width, height), selection: softEllipse(width, height, [120, 80, 96, 72]) });
}

/** Warm brand colours in a 32x24 block at (60, 8), transparent elsewhere: the layer a reference reads whole. */
function board(side: number): Uint8Array {
  const data = new Uint8Array(side * side * 4);
  for (let y = 8; y < 32; y++) for (let x = 60; x < 92; x++) data.set([230, 90 + x, 40 + 4 * y, 255], (y * side + x) * 4);
  return data;
}

/** White strokes on a transparent layer: a diamond kite and its tail, as a person would sketch it. */
function sketch(side: number): Uint8Array {
  const data = new Uint8Array(side * side * 4);
  const c = side / 2;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const diamond = Math.abs(Math.abs(x - c) + Math.abs(y - c) * 0.8 - 22) < 1.5;
      const tail = Math.abs(x - c - (y - c) * 0.3) < 1 && y > c + 27;
      if (diamond || tail) data.set([255, 255, 255, 255], (y * side + x) * 4);
    }
  }
  return data;
}
let stored = "";
const handle = startPanel({
  root: document,
  host: createPhotoshopHost(ps.modules(), { sleep: async () => undefined }),
  tokens: { load: async () => stored, save: async (t) => void (stored = t) },
  socketFactory: (url) => new WebSocket(url) as unknown as SocketLike,
  url: params.get("ws") ?? "ws://127.0.0.1:7433/v1/ws",
  historyStorage: localStorage,
  files: createFilePicker(uxp),
});

/** What the test reads back: the fake's calls, history and layer tree. */
(window as unknown as { underpaintTest: unknown }).underpaintTest = {
  state: () => handle.state(),
  running: () => handle.running.list(),
  picker: () => uxp.calls,
  others: () => ps.documents.slice(1).map((d) => ({ id: d.id, history: d.history, layers: d.layers.length })),
  document: () => {
    const doc = ps.documents[0];
    const layer = (l: (typeof doc.layers)[number]): unknown => ({
      id: l.id, name: l.name, kind: l.kind, visible: l.visible,
      bounds: l.pixels?.targetBounds ?? null, maskBounds: l.mask?.put?.targetBounds ?? null,
      pixelBytes: l.pixels?.imageData.data.length ?? 0, maskBytes: l.mask?.put?.imageData.data.length ?? 0,
      children: l.children.map(layer),
    });
    return {
      history: doc.history, layers: doc.layers.map(layer), calls: ps.names(),
      getPixels: ps.calls.filter((c) => c.fn === "imaging.getPixels").map((c) => c.args),
      recipe: handle.history.list(doc)[0]?.recipe ?? null,
      jobId: handle.history.list(doc)[0]?.jobId ?? null,
    };
  },
};

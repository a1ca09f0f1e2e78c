// A recording fake of the figma global, following @figma/plugin-typings for
// what the plugin uses: nodes with fills, plugin and relaunch data, clone and
// remove, findAll, exportAsync (real PNG bytes), createImage, getNodeByIdAsync,
// clientStorage, commitUndo, notify, ui.postMessage/onmessage, selection.
import { createHash } from "node:crypto";
import { encodePng } from "../src/core/png.js";

const PLUGIN_DATA_LIMIT = 100_000;
let nextId = 1;

type Paint = { type: string; imageHash?: string | null; color?: { r: number; g: number; b: number }; scaleMode?: string };

export class FakeNode {
  id = `${nextId++}:1`;
  name: string;
  x = 0;
  y = 0;
  width = 100;
  height = 100;
  visible = true;
  removed = false;
  parent: FakeNode | null = null;
  children: FakeNode[] = [];
  characters = "";
  private _fills: readonly Paint[] = [];
  readonly pluginData = new Map<string, string>();
  relaunchData: Record<string, string> = {};
  exports: { format: string; constraint?: { type: string; value: number } }[] = [];

  constructor(readonly type: string, readonly fake: FakeFigma, name = type.toLowerCase()) {
    this.name = name;
  }

  get fills(): readonly Paint[] {
    return this._fills;
  }

  set fills(paints: readonly Paint[]) {
    for (const paint of paints) {
      if (paint.type === "IMAGE" && (!paint.imageHash || !this.fake.images.has(paint.imageHash))) throw new Error("Image paint with an unknown hash");
    }
    this._fills = Object.freeze(paints.map((p) => Object.freeze({ ...p })));
  }

  setPluginData(key: string, value: string): void {
    if (Buffer.byteLength(value) >= PLUGIN_DATA_LIMIT) throw new Error("plugin data over the 100 kB limit");
    this.pluginData.set(key, value);
  }

  getPluginData(key: string): string {
    return this.pluginData.get(key) ?? "";
  }

  setRelaunchData(data: Record<string, string>): void {
    this.relaunchData = { ...data };
  }

  getRelaunchData(): Record<string, string> {
    return { ...this.relaunchData };
  }

  resize(width: number, height: number): void {
    this.width = width;
    this.height = height;
  }

  /** Children keep their own sizes (no constraints applied), as in Figma. */
  resizeWithoutConstraints(width: number, height: number): void {
    this.resize(width, height);
  }

  /** Every descendant `callback` accepts, depth first, as ChildrenMixin.findAll. */
  findAll(callback: (node: FakeNode) => boolean = () => true): FakeNode[] {
    return this.children.flatMap((child) => [...(callback(child) ? [child] : []), ...child.findAll(callback)]);
  }

  appendChild(child: FakeNode): void {
    this.insertChild(this.children.length, child);
  }

  insertChild(index: number, child: FakeNode): void {
    child.detach();
    child.parent = this;
    this.children.splice(Math.min(index, this.children.length), 0, child);
  }

  private detach(): void {
    if (!this.parent) return;
    this.parent.children.splice(this.parent.children.indexOf(this), 1);
    this.parent = null;
  }

  /** Like Figma: the duplicate is parented under the current page. */
  clone(): FakeNode {
    const copy = new FakeNode(this.type, this.fake, this.name);
    Object.assign(copy, { x: this.x, y: this.y, width: this.width, height: this.height, visible: this.visible, characters: this.characters });
    copy.fills = this.fills;
    for (const [k, v] of this.pluginData) copy.pluginData.set(k, v);
    copy.relaunchData = { ...this.relaunchData };
    this.fake.page.appendChild(copy);
    return copy;
  }

  remove(): void {
    this.detach();
    this.removed = true;
  }

  /** A real PNG at the constrained size, its pixels a function of the fills (so tests can tell sources apart). */
  async exportAsync(settings: { format: string; constraint?: { type: string; value: number } }): Promise<Uint8Array> {
    if (this.removed) throw new Error("The node with id was removed");
    this.exports.push(settings);
    const { type, value } = settings.constraint ?? { type: "SCALE", value: 1 };
    const scale = type === "WIDTH" ? value / this.width : type === "HEIGHT" ? value / this.height : value;
    const width = Math.round(this.width * scale);
    const height = Math.round(this.height * scale);
    await Promise.resolve();
    return encodePng(render(this.fills, width, height), { width, height });
  }
}

/** Textured pixels tinted by the first fill: a solid colour, or a hue from an image hash. */
export function render(fills: readonly Paint[], width: number, height: number): Uint8Array {
  const first = fills[0];
  const tint = first?.type === "SOLID" && first.color ? [first.color.r, first.color.g, first.color.b].map((v) => v * 255)
    : first?.type === "IMAGE" ? [parseInt(first.imageHash!.slice(0, 2), 16), 90, 160] : [200, 200, 200];
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = tint[0] * 0.6 + 50 * Math.sin(x / 7) + 30;
      data[i + 1] = tint[1] * 0.6 + 40 * Math.cos((x + y) / 11) + 30;
      data[i + 2] = tint[2] * 0.6 + (y / height) * 60;
      data[i + 3] = 255;
    }
  }
  return data;
}

export interface FakeFigma {
  api: PluginAPI;
  page: FakeNode;
  images: Map<string, Uint8Array>;
  notices: { text: string; error: boolean }[];
  toUi: unknown[];
  storage: Map<string, unknown>;
  undoCommits: number;
  shownUi: { html: string; options: unknown } | null;
  /** Called with every message the main thread posts to the UI (the test's bridge). */
  onPost: ((message: unknown) => void) | null;
  /** What the UI's parent.postMessage would deliver to figma.ui.onmessage. */
  fromUi(message: unknown): Promise<void>;
  frame(name: string, box: { x: number; y: number; width: number; height: number }, colour?: { r: number; g: number; b: number }): FakeNode;
  text(characters: string): FakeNode;
  select(...nodes: FakeNode[]): void;
  fireSelectionChange(): void;
}

export function createFakeFigma(command = ""): FakeFigma {
  const listeners = new Map<string, (() => void)[]>();
  let onmessage: ((message: unknown) => unknown) | undefined;
  let selection: FakeNode[] = [];
  const fake = {
    images: new Map<string, Uint8Array>(),
    notices: [] as { text: string; error: boolean }[],
    toUi: [] as unknown[],
    storage: new Map<string, unknown>(),
    undoCommits: 0,
    shownUi: null as { html: string; options: unknown } | null,
    onPost: null as ((message: unknown) => void) | null,
  } as FakeFigma;
  const page = new FakeNode("PAGE", fake, "Page 1");
  Object.defineProperty(page, "selection", { get: () => selection.filter((n) => !n.removed), set: (nodes: FakeNode[]) => (selection = [...nodes]) });
  const find = (node: FakeNode, id: string): FakeNode | null => {
    if (node.id === id) return node;
    for (const child of node.children) {
      const found = find(child, id);
      if (found) return found;
    }
    return null;
  };
  const api = {
    command,
    editorType: "figma",
    currentPage: page,
    showUI(html: string, options: unknown) {
      fake.shownUi = { html, options };
    },
    ui: {
      postMessage(message: unknown) {
        // Figma structured-clones messages; so does this fake, so no object is shared by accident.
        const copy = structuredClone(message);
        fake.toUi.push(copy);
        fake.onPost?.(copy);
      },
      set onmessage(handler: ((message: unknown) => unknown) | undefined) {
        onmessage = handler;
      },
      get onmessage() {
        return onmessage;
      },
    },
    on(event: string, handler: () => void) {
      listeners.set(event, [...(listeners.get(event) ?? []), handler]);
    },
    clientStorage: {
      getAsync: (key: string) => Promise.resolve(structuredClone(fake.storage.get(key))),
      setAsync: (key: string, value: unknown) => Promise.resolve(void fake.storage.set(key, structuredClone(value))),
    },
    getNodeByIdAsync: (id: string) => Promise.resolve(find(page, id)),
    createImage(bytes: Uint8Array) {
      if (!(bytes instanceof Uint8Array) || bytes.length < 8 || bytes[1] !== 0x50) throw new Error("Image type is unsupported");
      const hash = createHash("sha1").update(bytes).digest("hex");
      fake.images.set(hash, bytes);
      return { hash, getBytesAsync: () => Promise.resolve(bytes) };
    },
    getImageByHash: (hash: string) => (fake.images.has(hash) ? { hash } : null),
    commitUndo() {
      fake.undoCommits++;
    },
    notify(text: string, options?: { error?: boolean }) {
      fake.notices.push({ text, error: options?.error ?? false });
      return { cancel() {} };
    },
    closePlugin() {},
  };
  Object.assign(fake, {
    api: api as unknown as PluginAPI,
    page,
    fromUi: async (message: unknown) => {
      await onmessage?.(structuredClone(message));
    },
    frame(name: string, box: { x: number; y: number; width: number; height: number }, colour = { r: 1, g: 1, b: 1 }) {
      const node = new FakeNode("FRAME", fake, name);
      Object.assign(node, box);
      node.fills = [{ type: "SOLID", color: colour }];
      page.appendChild(node);
      return node;
    },
    text(characters: string) {
      const node = new FakeNode("TEXT", fake, characters.slice(0, 20));
      node.characters = characters;
      page.appendChild(node);
      return node;
    },
    select(...nodes: FakeNode[]) {
      selection = nodes;
    },
    fireSelectionChange() {
      for (const handler of listeners.get("selectionchange") ?? []) handler();
    },
  });
  return fake;
}

/** Installs `fake` as the figma global (and __html__) for code under test. */
export function install(fake: FakeFigma, html = "<html></html>"): void {
  Object.assign(globalThis, { figma: fake.api, __html__: html });
}

// A recording fake of the parts of `require("photoshop")` the adapter uses,
// following @types/photoshop: same names, options and results. It keeps a
// document model (composite, selection, layer tree, masks, canvas size) and a
// history list, so tests can assert exact calls, exact pixels, and that a
// placement is one undo step. Runs in Node (vitest) and in Chromium (panel test).

import type { action, app, core, imaging } from "photoshop";
import type { PhotoshopModules } from "../src/photoshop-host.js";

type Document = (typeof app)["activeDocument"];
type Layer = NonNullable<Awaited<ReturnType<Document["createLayerGroup"]>>>;
type ImageData = Awaited<ReturnType<typeof imaging.createImageDataFromBuffer>>;
type ExecutionContext = Parameters<Parameters<typeof core.executeAsModal>[0]>[0];
type Bounds = { left: number; top: number; right: number; bottom: number };

export interface Call {
  fn: string;
  args: Record<string, unknown>;
}

export interface FakeDocumentInit {
  id: number;
  title?: string;
  width: number;
  height: number;
  mode?: string;
  bitsPerChannel?: string;
  /** The composite, RGBA8. */
  composite: Uint8Array;
  /** Whether getPixels reports an alpha channel (layered documents) or RGB (flat ones). */
  hasAlpha?: boolean;
  /** The selection over the whole canvas (Gray8), or null for none. */
  selection?: Uint8Array | null;
  /** Where it is saved; "" (the default) for never saved. */
  path?: string;
  /** Pixel layers already in the document, top first, each with its own RGBA8 over the whole canvas. */
  layers?: { name: string; content: Uint8Array }[];
}

export class FakeImageData implements ImageData {
  readonly type = "image/uncompressed" as const;
  disposed = false;
  constructor(
    readonly data: Uint8Array | Uint16Array | Float32Array,
    readonly width: number,
    readonly height: number,
    readonly components: number,
    readonly colorSpace: ImageData["colorSpace"],
    readonly colorProfile: string,
    readonly chunky: boolean,
    readonly fullRange: boolean = false,
  ) {}
  get componentSize(): 8 | 16 | 32 {
    return this.data instanceof Uint16Array ? 16 : this.data instanceof Float32Array ? 32 : 8;
  }
  get hasAlpha(): boolean {
    return this.components === 2 || this.components === 4;
  }
  get pixelFormat(): ImageData["pixelFormat"] {
    return this.components === 1 ? "Grayscale" : this.components === 3 ? "RGB" : "RGBA";
  }
  getData = async (): Promise<Uint8Array | Uint16Array | Float32Array> => {
    if (this.disposed) throw new Error("imageData was disposed");
    return this.data;
  };
  dispose = async (): Promise<void> => {
    this.disposed = true;
  };
}

export interface PlacedPixels {
  targetBounds: Record<string, number> | undefined;
  imageData: FakeImageData;
}

export class FakeLayer implements Pick<Layer, "id" | "name" | "visible" | "kind"> {
  children: FakeLayer[] = [];
  parent: FakeLayer | null = null;
  pixels: PlacedPixels | null = null;
  /** A layer's own pixels over the whole canvas (RGBA8), for layers the document opened with. */
  content: Uint8Array | null = null;
  /** The user mask: `fill` everywhere except where `data` was put. */
  mask: { fill: number; put: PlacedPixels | null } | null = null;
  private shown = true;

  constructor(private readonly doc: FakeDocument, readonly id: number, public name: string, readonly kind: Layer["kind"]) {}

  get visible(): boolean {
    return this.shown;
  }
  set visible(value: boolean) {
    this.doc.edit("Hide/Show layer", { layer: this.id, visible: value });
    this.shown = value;
  }

  /** Like Layer.layers: a group's children, null for other layers. */
  get layers(): FakeLayer[] | null {
    return this.kind === ("group" as Layer["kind"]) ? this.children : null;
  }

  move(relative: Layer, placement: string): void {
    const target = relative as unknown as FakeLayer;
    this.doc.edit("move", { layer: this.id, relative: target.id, placement });
    if (placement !== "placeInside") throw new Error(`the fake only models placeInside, not ${placement}`);
    this.doc.detach(this);
    target.children.unshift(this);
    this.parent = target;
  }
}

export class FakeDocument implements Pick<Document, "id" | "title" | "path" | "width" | "height" | "mode" | "bitsPerChannel"> {
  readonly title: string;
  readonly path: string;
  width: number;
  height: number;
  readonly mode: Document["mode"];
  readonly bitsPerChannel: Document["bitsPerChannel"];
  composite: Uint8Array;
  hasAlpha: boolean;
  selectionMask: Uint8Array | null;
  /** Top-level layers, top first. */
  layers: FakeLayer[] = [];
  activeLayer: FakeLayer | null = null;
  /** History states, oldest first; every edit outside a suspension adds one, like Photoshop. */
  history: string[] = ["Open"];
  suspension: { id: number; name: string; snapshot: string } | null = null;
  readonly id: number;

  constructor(private readonly ps: FakePhotoshop, init: FakeDocumentInit) {
    this.id = init.id;
    this.title = init.title ?? `Untitled-${init.id}`;
    this.path = init.path ?? "";
    this.width = init.width;
    this.height = init.height;
    this.mode = (init.mode ?? "RGBColorMode") as Document["mode"];
    this.bitsPerChannel = (init.bitsPerChannel ?? "bitDepth8") as Document["bitsPerChannel"];
    this.composite = init.composite;
    this.hasAlpha = init.hasAlpha ?? false;
    this.selectionMask = init.selection ?? null;
    for (const { name, content } of init.layers ?? []) {
      const layer = new FakeLayer(this, ps.nextId(), name, "pixel" as Layer["kind"]);
      layer.content = content;
      this.layers.push(layer);
    }
  }

  /** Like Document.activeLayers: the layer made or picked last. */
  get activeLayers(): FakeLayer[] {
    return this.activeLayer ? [this.activeLayer] : [];
  }

  get selection(): { bounds: Bounds | null } {
    const mask = this.selectionMask;
    if (!mask) return { bounds: null };
    let left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++) {
        if (mask[y * this.width + x]) {
          left = Math.min(left, x); right = Math.max(right, x + 1);
          top = Math.min(top, y); bottom = Math.max(bottom, y + 1);
        }
      }
    }
    return { bounds: left === Infinity ? null : { left, top, right, bottom } };
  }

  /** Every document change goes through here: it must be modal, and it is one history state unless suspended. */
  edit(fn: string, args: Record<string, unknown>): void {
    this.ps.record(fn, { documentID: this.id, ...args });
    if (!this.ps.inModal) throw new Error(`${fn} outside executeAsModal: Photoshop refuses document edits there`);
    if (!this.suspension) this.history.push(fn);
  }

  detach(layer: FakeLayer): void {
    const siblings = layer.parent ? layer.parent.children : this.layers;
    siblings.splice(siblings.indexOf(layer), 1);
    layer.parent = null;
  }

  findLayer(id: number, within: FakeLayer[] = this.layers): FakeLayer | null {
    for (const layer of within) {
      if (layer.id === id) return layer;
      const inner = this.findLayer(id, layer.children);
      if (inner) return inner;
    }
    return null;
  }

  async createLayerGroup(options?: { name?: string }): Promise<Layer | null> {
    this.edit("createLayerGroup", { options });
    return this.add(new FakeLayer(this, this.ps.nextId(), options?.name ?? "Group 1", "group" as Layer["kind"]));
  }

  async createLayer(kind?: unknown, options?: { name?: string }): Promise<Layer | null> {
    this.edit("createLayer", { kind, options });
    return this.add(new FakeLayer(this, this.ps.nextId(), options?.name ?? "Layer 1", (kind ?? "pixel") as Layer["kind"]));
  }

  private add(layer: FakeLayer): Layer {
    this.layers.unshift(layer);
    this.activeLayer = layer;
    return layer as unknown as Layer;
  }

  async resizeCanvas(width: number, height: number, anchor?: unknown): Promise<void> {
    this.edit("resizeCanvas", { width, height, anchor });
    this.width = width;
    this.height = height;
  }

  snapshot(): string {
    return JSON.stringify({ w: this.width, h: this.height, layers: this.layers.map((l) => l.id) });
  }

  rollback(snapshot: string): void {
    const { w, h, layers } = JSON.parse(snapshot) as { w: number; h: number; layers: number[] };
    this.width = w;
    this.height = h;
    this.layers = this.layers.filter((l) => layers.includes(l.id));
  }
}

function rectOf(bounds: Bounds): { x: number; y: number; width: number; height: number } {
  return { x: bounds.left, y: bounds.top, width: bounds.right - bounds.left, height: bounds.bottom - bounds.top };
}

function crop(data: Uint8Array, width: number, components: number, b: Bounds): Uint8Array {
  const out = new Uint8Array((b.right - b.left) * (b.bottom - b.top) * components);
  const row = (b.right - b.left) * components;
  for (let y = b.top; y < b.bottom; y++) out.set(data.subarray((y * width + b.left) * components, (y * width + b.left) * components + row), (y - b.top) * row);
  return out;
}

function clip(a: Bounds, b: Bounds): Bounds {
  return { left: Math.max(a.left, b.left), top: Math.max(a.top, b.top), right: Math.min(a.right, b.right), bottom: Math.min(a.bottom, b.bottom) };
}

/** One layer's own pixels, trimmed like Photoshop to where the layer has any (RGBA, alpha above 0). */
function layerPixels(doc: FakeDocument, layerID: number, within: Bounds): Awaited<ReturnType<typeof imaging.getPixels>> {
  const layer = doc.findLayer(layerID);
  if (!layer?.content) throw new Error(`no pixel layer ${layerID}`);
  let left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
  for (let y = within.top; y < within.bottom; y++) {
    for (let x = within.left; x < within.right; x++) {
      if (layer.content[(y * doc.width + x) * 4 + 3]) {
        left = Math.min(left, x); right = Math.max(right, x + 1);
        top = Math.min(top, y); bottom = Math.max(bottom, y + 1);
      }
    }
  }
  const bounds = left === Infinity ? { left: within.left, top: within.top, right: within.left, bottom: within.top } : { left, top, right, bottom };
  const r = rectOf(bounds);
  return { imageData: new FakeImageData(crop(layer.content, doc.width, 4, bounds), r.width, r.height, 4, "RGB", SRGB_PROFILE, true), sourceBounds: bounds, level: 0 };
}

const SRGB_PROFILE = "sRGB IEC61966-2.1";

export class FakePhotoshop {
  calls: Call[] = [];
  documents: FakeDocument[] = [];
  active: FakeDocument | null = null;
  inModal = false;
  /** How many executeAsModal calls to refuse as "another plugin is modal" (error number 9). */
  busyFor = 0;
  private ids = 100;

  addDocument(init: FakeDocumentInit): FakeDocument {
    const doc = new FakeDocument(this, init);
    this.documents.push(doc);
    this.active = doc;
    return doc;
  }

  nextId(): number {
    return ++this.ids;
  }

  record(fn: string, args: Record<string, unknown>): void {
    this.calls.push({ fn, args });
  }

  names(): string[] {
    return this.calls.map((c) => c.fn);
  }

  private doc(id?: number): FakeDocument {
    const doc = id === undefined || id < 0 ? this.active : this.documents.find((d) => d.id === id);
    if (!doc) throw new Error(`no document ${id}`);
    return doc;
  }

  modules(): PhotoshopModules {
    const self = this;
    const getSelection: typeof imaging.getSelection = async (options) => {
      self.record("imaging.getSelection", { ...options });
      const doc = self.doc(options.documentID);
      const selected = doc.selection.bounds;
      if (!doc.selectionMask || !selected) throw new Error("There is no selection");
      // Photoshop trims to where the selection has data.
      const bounds = clip(clip(options.sourceBounds ?? selected, selected), { left: 0, top: 0, right: doc.width, bottom: doc.height });
      const data = crop(doc.selectionMask, doc.width, 1, bounds);
      const r = rectOf(bounds);
      return { imageData: new FakeImageData(data, r.width, r.height, 1, "Grayscale", "", true), sourceBounds: bounds };
    };
    const getPixels: typeof imaging.getPixels = async (options) => {
      self.record("imaging.getPixels", { ...options });
      const doc = self.doc(options.documentID);
      const canvas = { left: 0, top: 0, right: doc.width, bottom: doc.height };
      if (options.layerID !== undefined) return layerPixels(doc, options.layerID, clip(options.sourceBounds ?? canvas, canvas));
      const bounds = clip(options.sourceBounds ?? canvas, canvas);
      const rgba = crop(doc.composite, doc.width, 4, bounds);
      const r = rectOf(bounds);
      let data = rgba;
      if (!doc.hasAlpha) {
        data = new Uint8Array(r.width * r.height * 3);
        for (let i = 0; i < r.width * r.height; i++) data.set(rgba.subarray(i * 4, i * 4 + 3), i * 3);
      }
      const profile = options.colorProfile ?? "Document profile";
      return { imageData: new FakeImageData(data, r.width, r.height, doc.hasAlpha ? 4 : 3, "RGB", profile, true), sourceBounds: bounds, level: 0 };
    };
    const createImageDataFromBuffer: typeof imaging.createImageDataFromBuffer = async (buffer, options) => {
      self.record("imaging.createImageDataFromBuffer", { ...options, length: buffer.length, type: buffer.constructor.name });
      if (buffer.length !== options.width * options.height * options.components) throw new Error("buffer size does not match width * height * components");
      return new FakeImageData(buffer.slice(), options.width, options.height, options.components, options.colorSpace as ImageData["colorSpace"], options.colorProfile ?? "", options.chunky ?? true, options.fullRange);
    };
    const putPixels: typeof imaging.putPixels = async (options) => {
      const doc = self.doc(options.documentID);
      doc.edit("imaging.putPixels", { ...options });
      const layer = doc.findLayer(options.layerID);
      if (!layer) throw new Error(`no layer ${options.layerID}`);
      layer.pixels = { targetBounds: { ...options.targetBounds } as Record<string, number>, imageData: options.imageData as FakeImageData };
    };
    const putLayerMask: typeof imaging.putLayerMask = async (options) => {
      const doc = self.doc(options.documentID);
      doc.edit("imaging.putLayerMask", { ...options });
      const layer = doc.findLayer(options.layerID);
      if (!layer?.mask) throw new Error(`layer ${options.layerID} has no user mask`);
      layer.mask.put = { targetBounds: { ...options.targetBounds } as Record<string, number>, imageData: options.imageData as FakeImageData };
    };
    const batchPlay: typeof action.batchPlay = async (commands, options) => {
      const doc = self.doc();
      for (const command of commands) {
        doc.edit("action.batchPlay", { command, options });
        const using = (command as { using?: { _value?: string } }).using?._value;
        if (command._obj === "make" && doc.activeLayer && using) doc.activeLayer.mask = { fill: using === "hideAll" ? 0 : 255, put: null };
      }
      return commands.map((c) => ({ _obj: c._obj }));
    };
    const executeAsModal = async <T>(target: (context: ExecutionContext, descriptor?: object) => Promise<T>, options: { commandName: string }): Promise<T> => {
      self.record("core.executeAsModal", { commandName: options.commandName });
      if (self.busyFor > 0 || self.inModal) {
        self.busyFor = Math.max(0, self.busyFor - 1);
        throw Object.assign(new Error("host is in a modal state"), { number: 9 });
      }
      self.inModal = true;
      let suspensions = 0;
      const context = {
        isCancelled: false,
        reportProgress: () => undefined,
        hostControl: {
          suspendHistory: async ({ documentID, name }: { documentID: number; name: string }) => {
            self.record("hostControl.suspendHistory", { documentID, name });
            const doc = self.doc(documentID);
            doc.suspension = { id: ++suspensions, name, snapshot: doc.snapshot() };
            return { historySuspensionID: suspensions };
          },
          resumeHistory: async (suspension: { historySuspensionID: number; finalName?: string }, commit?: boolean) => {
            self.record("hostControl.resumeHistory", { ...suspension, commit });
            const doc = self.documents.find((d) => d.suspension?.id === suspension.historySuspensionID);
            if (!doc?.suspension) throw new Error("unknown history suspension");
            if (commit) doc.history.push(suspension.finalName ?? doc.suspension.name);
            else doc.rollback(doc.suspension.snapshot);
            doc.suspension = null;
          },
          registerAutoCloseDocument: async () => undefined,
          unregisterAutoCloseDocument: async () => undefined,
        },
      } as unknown as ExecutionContext;
      try {
        const result = await target(context);
        if (self.documents.some((d) => d.suspension)) throw new Error("a history suspension was left open");
        return result;
      } finally {
        self.inModal = false;
      }
    };
    return {
      app: {
        get activeDocument() {
          return self.active as unknown as Document | null;
        },
        set activeDocument(doc: Document | null) {
          self.record("app.activeDocument", { documentID: doc?.id });
          self.active = doc as unknown as FakeDocument;
        },
        get documents() {
          return self.documents as unknown as Document[];
        },
      },
      core: { executeAsModal: executeAsModal as typeof core.executeAsModal },
      imaging: { getSelection, getPixels, putPixels, putLayerMask, createImageDataFromBuffer },
      action: { batchPlay },
      // The enum values from @types/photoshop's Constants.d.ts (declared there, not shipped as code).
      constants: {
        LayerKind: { NORMAL: "pixel", GROUP: "group" },
        ElementPlacement: { PLACEINSIDE: "placeInside", PLACEATBEGINNING: "placeAtBeginning" },
        AnchorPosition: { MIDDLECENTER: "middle-center", TOPLEFT: "top-left", BOTTOMRIGHT: "bottom-right" },
      } as unknown as PhotoshopModules["constants"],
    };
  }
}

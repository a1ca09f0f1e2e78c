// The thin adapter between the plugin core and Photoshop's UXP APIs. It is the
// only module that touches Photoshop, and it gets the modules passed in (main.ts
// passes `require("photoshop")`), so tests drive it with a recording fake that
// follows @types/photoshop.

import type { action as psAction, app as psApp, constants as psConstants, core as psCore, imaging as psImaging } from "photoshop";
import type { Rect } from "./protocol.js";
import { boundsFromRect, rectFromBounds, type Sides } from "./geometry.js";
import type { DocumentInfo, Host, LayerSummary, Placement, PlacedLayer } from "./host.js";
import { padInto, toRgba, widenTo16 } from "./pixels.js";

type Document = (typeof psApp)["activeDocument"];
type Layer = NonNullable<Awaited<ReturnType<Document["createLayerGroup"]>>>;
type ImageData = Awaited<ReturnType<typeof psImaging.createImageDataFromBuffer>>;

/** The parts of `require("photoshop")` the adapter uses, typed by @types/photoshop. */
export interface PhotoshopModules {
  app: { activeDocument: Document | null; readonly documents: ArrayLike<Document> };
  core: Pick<typeof psCore, "executeAsModal">;
  imaging: Pick<typeof psImaging, "getSelection" | "getPixels" | "putPixels" | "putLayerMask" | "createImageDataFromBuffer">;
  action: Pick<typeof psAction, "batchPlay">;
  constants: Pick<typeof psConstants, "LayerKind" | "ElementPlacement" | "AnchorPosition">;
}

/** What the agent speaks: results are sRGB and the selection is read as it is. */
export const SRGB = "sRGB IEC61966-2.1";
export const GRAY = "Gray Gamma 2.2";
/** executeAsModal's error number when another plugin (or a dialog) holds the modal state. */
const MODAL_BUSY = 9;

export interface AdapterOptions {
  /** Waits between attempts when Photoshop is busy in another modal scope. */
  retryDelaysMs?: number[];
  sleep?: (ms: number) => Promise<void>;
}

export function createPhotoshopHost(ps: PhotoshopModules, options: AdapterOptions = {}): Host {
  const retryDelays = options.retryDelaysMs ?? [100, 250, 500, 1000, 2000, 4000];
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  function documentById(id: number): Document {
    for (let i = 0; i < ps.app.documents.length; i++) {
      const doc = ps.app.documents[i];
      if (doc.id === id) return doc;
    }
    throw new Error("The document this job came from was closed; its results were not placed.");
  }

  /** Runs `body` as a modal command, waiting while another plugin holds Photoshop's modal state. */
  async function modal<T>(commandName: string, body: Parameters<typeof ps.core.executeAsModal<T>>[0]): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await ps.core.executeAsModal(body, { commandName });
      } catch (error) {
        if ((error as { number?: number }).number !== MODAL_BUSY || attempt >= retryDelays.length) throw error;
        await sleep(retryDelays[attempt]);
      }
    }
  }

  /** getPixels as explicit 8-bit sRGB RGBA over exactly `rect`: of the composite, or of one layer when `layerID` is given. */
  async function readRgba(commandName: string, documentId: number, rect: Rect, layerID?: number): Promise<Uint8Array> {
    // Explicit 8-bit sRGB: Photoshop converts from the document's own profile and depth, never the agent.
    const result = await modal(commandName, () =>
      ps.imaging.getPixels({ documentID: documentId, ...(layerID !== undefined && { layerID }), sourceBounds: boundsFromRect(rect), colorSpace: "RGB", colorProfile: SRGB, componentSize: 8 }),
    );
    const data = toRgba(await readData(result.imageData), result.imageData.components);
    // Photoshop trims to where there are pixels; the rest is transparent, not black.
    return padInto(data, rectFromBounds(result.sourceBounds), rect, 4, 0);
  }

  async function readData(imageData: ImageData): Promise<Uint8Array> {
    try {
      const data = await imageData.getData({ chunky: true });
      if (!(data instanceof Uint8Array)) throw new Error(`Photoshop returned ${imageData.componentSize}-bit data where 8-bit was asked for.`);
      return data;
    } finally {
      await imageData.dispose();
    }
  }

  /**
   * resizeCanvas grows around an anchor, so equal margins are one centred resize;
   * others are two: right and bottom anchored top-left, then left and top anchored bottom-right.
   */
  async function growCanvas(doc: Document, grow: Sides): Promise<void> {
    const { AnchorPosition } = ps.constants;
    const width = doc.width + grow.left + grow.right;
    const height = doc.height + grow.top + grow.bottom;
    if (grow.left === grow.right && grow.top === grow.bottom) return doc.resizeCanvas(width, height, AnchorPosition.MIDDLECENTER);
    await doc.resizeCanvas(doc.width + grow.right, doc.height + grow.bottom, AnchorPosition.TOPLEFT);
    await doc.resizeCanvas(width, height, AnchorPosition.BOTTOMRIGHT);
  }

  async function putLayer(doc: Document, group: Layer, spec: PlacedLayer, depth: 8 | 16): Promise<number> {
    const { bounds } = spec;
    const layer = await doc.createLayer(ps.constants.LayerKind.NORMAL, { name: spec.name });
    if (!layer) throw new Error("Photoshop did not create a layer.");
    layer.move(group, ps.constants.ElementPlacement.PLACEINSIDE);
    // A hidden-everywhere mask first, so only the agent's bounds show and putLayerMask has a user mask to write.
    await ps.action.batchPlay(
      [{ _obj: "make", new: { _class: "channel" }, at: { _ref: "channel", _enum: "channel", _value: "mask" }, using: { _enum: "userMaskEnabled", _value: "hideAll" } }],
      {},
    );
    const target = { left: bounds.x, top: bounds.y, width: bounds.width, height: bounds.height };
    const pixels = await ps.imaging.createImageDataFromBuffer(depth === 16 ? widenTo16(spec.pixels) : spec.pixels, {
      width: bounds.width, height: bounds.height, components: 4, chunky: true, colorSpace: "RGB", colorProfile: SRGB,
      ...(depth === 16 && { fullRange: true }),
    });
    await ps.imaging.putPixels({ documentID: doc.id, layerID: layer.id, imageData: pixels, replace: true, targetBounds: target });
    await pixels.dispose();
    const mask = await ps.imaging.createImageDataFromBuffer(depth === 16 ? widenTo16(spec.mask) : spec.mask, {
      width: bounds.width, height: bounds.height, components: 1, chunky: false, colorSpace: "Grayscale", colorProfile: GRAY,
      ...(depth === 16 && { fullRange: true }),
    });
    await ps.imaging.putLayerMask({ documentID: doc.id, layerID: layer.id, kind: "user", imageData: mask, replace: true, targetBounds: target });
    await mask.dispose();
    layer.visible = spec.visible;
    return layer.id;
  }

  return {
    async activeDocument(): Promise<DocumentInfo | null> {
      const doc = ps.app.activeDocument;
      return doc ? info(doc) : null;
    },

    async selectionBounds(documentId: number): Promise<Rect | null> {
      const bounds = documentById(documentId).selection.bounds;
      return bounds ? rectFromBounds(bounds) : null;
    },

    async readSelection(documentId: number, rect: Rect): Promise<Uint8Array> {
      // getSelection only reads (no document edits, no temporary channels) and trims to the selection's bounds.
      const result = await modal("Read selection", () => ps.imaging.getSelection({ documentID: documentId, sourceBounds: boundsFromRect(rect) }));
      const data = await readData(result.imageData);
      return padInto(data, rectFromBounds(result.sourceBounds), rect, 1, 0);
    },

    async readPixels(documentId: number, rect: Rect): Promise<Uint8Array> {
      return readRgba("Read pixels", documentId, rect);
    },

    async layers(documentId: number): Promise<LayerSummary[]> {
      const out: LayerSummary[] = [];
      const walk = (layers: ArrayLike<Layer> | null, depth: number): void => {
        for (let i = 0; i < (layers?.length ?? 0); i++) {
          const layer = (layers as ArrayLike<Layer>)[i];
          out.push({ id: layer.id, name: layer.name, kind: String(layer.kind), depth });
          walk(layer.layers, depth + 1);
        }
      };
      walk(documentById(documentId).layers, 0);
      return out;
    },

    async readLayerPixels(documentId: number, layerId: number, rect: Rect): Promise<Uint8Array> {
      // getPixels with a layerID reads that layer alone, shown or hidden: no temporary layer, no document edit.
      return readRgba("Read control layer", documentId, rect, layerId);
    },

    async readLayerImage(documentId: number, layerId: number): Promise<{ data: Uint8Array; rect: Rect }> {
      // No sourceBounds: Photoshop returns the layer's pixels trimmed to where it has any, and says where.
      const result = await modal("Read reference layer", () =>
        ps.imaging.getPixels({ documentID: documentId, layerID: layerId, colorSpace: "RGB", colorProfile: SRGB, componentSize: 8 }),
      );
      const data = toRgba(await readData(result.imageData), result.imageData.components);
      return { data, rect: rectFromBounds(result.sourceBounds) };
    },

    async documents(): Promise<DocumentInfo[]> {
      const out: DocumentInfo[] = [];
      for (let i = 0; i < ps.app.documents.length; i++) out.push(info(ps.app.documents[i]));
      return out;
    },

    async selectedLayerIds(documentId: number): Promise<number[]> {
      const ids = new Set<number>();
      const active = documentById(documentId).activeLayers;
      for (let i = 0; i < active.length; i++) {
        for (let layer: Layer | null = active[i]; layer; layer = layer.parent) ids.add(layer.id);
      }
      return [...ids];
    },

    async place(documentId: number, placement: Placement): Promise<number[]> {
      for (const layer of placement.layers) checkLayer(layer);
      return modal(placement.historyName, async (context) => {
        const doc = documentById(documentId);
        // Layer-mask creation (batchPlay) acts on the active document: bring the job's one forward.
        if (ps.app.activeDocument?.id !== documentId) ps.app.activeDocument = doc;
        const suspension = await context.hostControl.suspendHistory({ documentID: documentId, name: placement.historyName });
        let committed = false;
        const ids: number[] = [];
        try {
          if (placement.grow) await growCanvas(doc, placement.grow);
          const group = await doc.createLayerGroup({ name: placement.groupName });
          if (!group) throw new Error("Photoshop did not create a layer group.");
          ids.push(group.id);
          // Each layer goes to the top of the group, so the last variant goes in first.
          for (const layer of [...placement.layers].reverse()) ids.push(await putLayer(doc, group, layer, placement.depth));
          committed = true;
        } finally {
          // Committing gives one undo step; on failure the suspension is rolled back and the document is untouched.
          await context.hostControl.resumeHistory(suspension, committed);
        }
        return ids;
      });
    },
  };
}

function info(doc: Document): DocumentInfo {
  return { id: doc.id, title: doc.title, path: savedPath(doc), width: doc.width, height: doc.height, facts: { mode: doc.mode, bitsPerChannel: doc.bitsPerChannel } };
}

/** A saved document's path; "" for one never saved (whose path Photoshop does not give). */
function savedPath(doc: Document): string {
  try {
    return doc.path || "";
  } catch {
    return "";
  }
}

function checkLayer(layer: PlacedLayer): void {
  const { x, y, width, height } = layer.bounds;
  if (![x, y, width, height].every(Number.isInteger) || width <= 0 || height <= 0) {
    throw new Error(`The agent sent layer bounds that are not whole pixels: ${JSON.stringify(layer.bounds)}.`);
  }
  if (layer.pixels.length !== width * height * 4 || layer.mask.length !== width * height) {
    throw new Error(`Layer '${layer.name}' has ${layer.pixels.length} pixel and ${layer.mask.length} mask bytes for ${width}x${height}.`);
  }
}

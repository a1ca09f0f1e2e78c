// What the plugin core needs from Photoshop, as plain data. The Photoshop
// adapter (photoshop-host.ts) implements it with the real APIs; tests and the
// Chromium panel use it with a recording fake. Nothing here imports Photoshop.

import type { Sides } from "./geometry.js";
import type { Rect } from "./protocol.js";
import type { DocumentFacts, PlacementDepth } from "./modes.js";

export interface DocumentInfo {
  id: number;
  title: string;
  /** Where it is saved; "" for a document never saved. */
  path: string;
  width: number;
  height: number;
  facts: DocumentFacts;
}

export interface PlacedLayer {
  name: string;
  /** Document coordinates, whole pixels: where the agent says the layer goes. */
  bounds: Rect;
  visible: boolean;
  /** RGBA8, bounds.width * bounds.height * 4 bytes. */
  pixels: Uint8Array;
  /** Gray8 layer mask over the same bounds; 255 shows the layer. */
  mask: Uint8Array;
}

export interface Placement {
  groupName: string;
  /** The one history state (undo step) the whole placement becomes. */
  historyName: string;
  depth: PlacementDepth;
  /** Top of the group first: the first variant ends up on top and visible. */
  layers: PlacedLayer[];
  /** Expand only: grow the canvas by these margins, in the same undo step, before placing. */
  grow?: Sides;
}

/** A layer of the document, as the panel lists it for marking controls and references. */
export interface LayerSummary {
  id: number;
  name: string;
  /** Photoshop's LayerKind value, e.g. "pixel" or "group". */
  kind: string;
  /** Nesting depth: 0 for top-level layers. */
  depth: number;
}

export interface Host {
  /** The document the user is looking at, or null when none is open. */
  activeDocument(): Promise<DocumentInfo | null>;
  /** Bounds of the selection of that document, or null when nothing is selected. */
  selectionBounds(documentId: number): Promise<Rect | null>;
  /** The selection as Gray8 over exactly `rect` (0 where unselected). */
  readSelection(documentId: number, rect: Rect): Promise<Uint8Array>;
  /** The composite as RGBA8 sRGB over exactly `rect` (transparent where empty). */
  readPixels(documentId: number, rect: Rect): Promise<Uint8Array>;
  /** Every layer of that document, top first, groups before their children. */
  layers(documentId: number): Promise<LayerSummary[]>;
  /** One layer's (or group's) own pixels as RGBA8 sRGB over exactly `rect`, transparent where it has none; edits nothing. */
  readLayerPixels(documentId: number, layerId: number, rect: Rect): Promise<Uint8Array>;
  /** One layer's (or group's) own pixels wherever it has any, as RGBA8 sRGB, and where they lie; width 0 when it has none. Edits nothing. */
  readLayerImage(documentId: number, layerId: number): Promise<{ data: Uint8Array; rect: Rect }>;
  /** Every open document: where a resumed job's results go. */
  documents(): Promise<DocumentInfo[]>;
  /** The selected layers of that document and the groups holding them. */
  selectedLayerIds(documentId: number): Promise<number[]>;
  /** Puts a group of masked layers into that document as one undo step; the ids of the group and its layers. */
  place(documentId: number, placement: Placement): Promise<number[]>;
}

/** An image file the user picked, as its bytes. */
export interface PickedFile {
  name: string;
  bytes: Uint8Array;
}

/** What the panel needs of UXP's file system: the picker (main.ts), or a recording fake. */
export interface FilePicker {
  /** Shows the file picker for `types` (extensions); null when the user cancels. */
  pickFile(types: string[]): Promise<PickedFile | null>;
}

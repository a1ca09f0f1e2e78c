// What each mode needs from the document, decided without Photoshop: which
// rectangle to ask the agent about, whether pixels and a mask travel, and the
// sentence to show when the document cannot be used as it is.

import type { Mode, Rect, Size } from "./protocol.js";
import { canvasRect, intersect, isEmpty } from "./geometry.js";

/** The panel's modes in menu order; the menu shows those the chosen model can do (abilitiesOf). */
export const MODES: readonly Mode[] = ["fill", "remove", "expand", "generate", "refine", "edit"];

export const MODE_LABELS: Record<Mode, string> = {
  fill: "Fill",
  remove: "Remove",
  expand: "Expand",
  generate: "Generate",
  refine: "Refine",
  upscale: "Upscale",
  edit: "Edit",
};

/** Colour facts about a document, as plain strings so this module never needs Photoshop. */
export interface DocumentFacts {
  /** Photoshop's DocumentMode value, e.g. "RGBColorMode". */
  mode: string;
  /** Photoshop's BitsPerChannelType value, e.g. "bitDepth8". */
  bitsPerChannel: string;
}

/** The depth results are written at; reading always asks Photoshop for 8-bit sRGB. */
export type PlacementDepth = 8 | 16;

/**
 * Either the depth to place results at, or the sentence saying what to do.
 * Reading converts anything to 8-bit sRGB (Photoshop does it, with an explicit
 * profile), but results must go back as layers the document can hold without a
 * guess: 8- and 16-bit RGB take them exactly (16-bit by v*257); 32-bit HDR
 * would clip to sRGB and the other modes would reinterpret RGB, so those are
 * refused with the menu path that fixes it.
 */
export function placementDepth(facts: DocumentFacts): PlacementDepth | { refuse: string } {
  if (facts.mode !== "RGBColorMode") {
    const name = MODE_NAMES[facts.mode] ?? facts.mode;
    return {
      refuse: `Underpaint works on RGB documents and this one is ${name}: choose Image > Mode > RGB Color (on a copy if you need to keep it), then generate again.`,
    };
  }
  if (facts.bitsPerChannel === "bitDepth8") return 8;
  if (facts.bitsPerChannel === "bitDepth16") return 16;
  return {
    refuse: "Underpaint places 8- or 16-bit layers and this document is 32-bit: choose Image > Mode > 16 Bits/Channel (on a copy if you need to keep it), then generate again.",
  };
}

const MODE_NAMES: Record<string, string> = {
  bitmapMode: "Bitmap",
  CMYKColorMode: "CMYK",
  duotoneMode: "Duotone",
  grayscaleMode: "Grayscale",
  indexedColorMode: "Indexed Color",
  labColorMode: "Lab",
  multichannelMode: "Multichannel",
};

/** Where a job looks in the document, before the agent has planned the context. */
export type Target =
  | { kind: "selection"; rect: Rect }
  | { kind: "canvas"; rect: Rect }
  | { kind: "refuse"; message: string };

/**
 * No selection: Fill and Remove need one (there is nothing to fill), so they
 * say so; Generate, Refine and Edit work over the whole canvas, like Photoshop's
 * Generative Fill with nothing selected; Expand always works on the canvas
 * edges, whatever is selected.
 */
export function targetFor(mode: Mode, document: Size, selection: Rect | null): Target {
  const canvas = canvasRect(document);
  if (mode === "expand") return { kind: "canvas", rect: canvas };
  const inside = selection && intersect(selection, canvas);
  if (inside && !isEmpty(inside)) return { kind: "selection", rect: inside };
  if (mode === "fill" || mode === "remove") {
    const what = mode === "fill" ? "fill" : "remove";
    return {
      kind: "refuse",
      message: selection
        ? `The selection lies outside the canvas: select the area to ${what} inside the document.`
        : `Select the area to ${what} first (any selection tool; soft edges are kept), then press Generate.`,
    };
  }
  return { kind: "canvas", rect: canvas };
}

export interface Transfer {
  /** Ask the agent (`plan`) for the context rectangle, instead of using the target as is. */
  plan: boolean;
  /** Send the document's pixels of the region. */
  image: boolean;
  /** Send the selection as a Gray8 mask of the region. */
  mask: boolean;
}

/**
 * Generate creates pixels, so it sends none and its region is the target
 * itself; the others send the context the agent plans around the selection.
 * Expand sends the whole canvas (the agent grows it by the margins), Refine
 * and Edit without a selection the whole canvas with no mask.
 */
export function transferFor(mode: Mode, target: Target): Transfer {
  const selected = target.kind === "selection";
  switch (mode) {
    case "generate":
      return { plan: false, image: false, mask: selected };
    case "expand":
      return { plan: false, image: true, mask: false };
    case "refine":
    case "edit":
      return { plan: selected, image: true, mask: selected };
    default:
      return { plan: true, image: true, mask: true };
  }
}

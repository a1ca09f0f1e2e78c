// Reference images as the panel keeps them (a layer of the document, or a PNG
// file picked from disk) and what they become on the wire: `params.references`
// with one `submit.references` image each, in the same order. Pure.

import type { ModelInfo, ReferenceRef } from "./protocol.js";

export type Focus = NonNullable<ReferenceRef["focus"]>;

/** Where a reference's pixels come from: read from the layer when Generate is pressed, or the file's bytes as picked. */
export type ReferenceSource =
  | { kind: "layer"; layerId: number }
  | { kind: "file"; png: Uint8Array; width: number; height: number };

export interface ReferenceImage {
  source: ReferenceSource;
  /** What the panel shows: the layer's or the file's name. */
  label: string;
  /** 0-2, as the protocol takes it; 0 is the job without it. */
  weight: number;
  /** "all": content and look; "style": only the look (colour, texture, light). */
  focus: Focus;
}

/** The protocol's limit (PROTOCOL.md, References). */
export const MAX_REFERENCES = 4;
/** The file picker's types: the agent takes reference files as PNG (a JPEG can be placed as a layer and used from there). */
export const REFERENCE_FILE_TYPES = ["png"];

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A PNG's size from its IHDR chunk (what the reference's Blob announces), or the sentence saying it is no PNG. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } | { error: string } {
  const isPng = bytes.length >= 24 && PNG_SIGNATURE.every((b, i) => bytes[i] === b) && String.fromCharCode(...bytes.subarray(12, 16)) === "IHDR";
  if (!isPng) return { error: "That file is not a PNG image: save it as PNG, or place it as a layer and use the layer." };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width === 0 || height === 0 || width > 65535 || height > 65535) return { error: `That PNG says it is ${width}x${height}; the agent takes 1 to 65535 pixels a side.` };
  return { width, height };
}

/** A new reference, or the sentence saying what is wrong with it. */
export function checkReference(reference: ReferenceImage, existing: readonly ReferenceImage[], model: ModelInfo | undefined): ReferenceImage | { error: string } {
  if (existing.length >= MAX_REFERENCES) return { error: `A job takes at most ${MAX_REFERENCES} reference images: remove one first.` };
  if (!model?.ip_adapters?.length) {
    return { error: `The model '${model?.name ?? "(none)"}' has no IP-Adapter, so it cannot take a reference image: choose a model that lists one.` };
  }
  if (!(reference.weight >= 0 && reference.weight <= 2)) return { error: "A reference's weight must be between 0 and 2." };
  return reference;
}

/** `params.references`, in the order of `submit.references`. */
export function referenceRefs(references: readonly ReferenceImage[]): ReferenceRef[] {
  return references.map(({ weight, focus }) => ({ weight, focus }));
}

export function referenceLabel(reference: ReferenceImage): string {
  const what = reference.source.kind === "layer" ? "layer" : "file";
  return `${reference.label} (${what}) · ${reference.weight}${reference.focus === "style" ? " · look only" : ""}`;
}

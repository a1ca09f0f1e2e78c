// The panel's reference images: a layer of the document or a PNG file picked
// with UXP's file picker, each with a weight and a focus, checked by
// references.ts and read by the job controller when Generate is pressed.

import type { ModelInfo } from "./protocol.js";
import type { FilePicker, LayerSummary } from "./host.js";
import { checkReference, pngSize, REFERENCE_FILE_TYPES, referenceLabel, type Focus, type ReferenceImage, type ReferenceSource } from "./references.js";
import { byId, chip, enable, pickerValue, setOptions } from "./widgets.js";

export interface ReferencesOptions {
  root: Document;
  files: FilePicker;
  /** The model the job will run on: its IP-Adapters say whether it takes references. */
  model(): ModelInfo | undefined;
  onError(message: string): void;
}

export interface References {
  references(): ReferenceImage[];
  /** The document's layers changed (or another document came forward). */
  fillLayers(layers: LayerSummary[]): void;
  /** The engine or model changed. */
  fillForModel(): void;
}

export function bindReferences(options: ReferencesOptions): References {
  const { root } = options;
  const el = (id: string) => byId(root, id);
  let references: ReferenceImage[] = [];
  let layerNames = new Map<number, string>();

  function render(): void {
    el("references").replaceChildren(...references.map((r, i) => chip(root, referenceLabel(r), `Remove reference ${i + 1}`, () => {
      references = references.filter((other) => other !== r);
      render();
    })));
  }

  function add(source: ReferenceSource, label: string): void {
    const reference: ReferenceImage = { source, label, weight: Number(el("reference-weight").value), focus: pickerValue(el("reference-focus")) as Focus };
    const checked = checkReference(reference, references, options.model());
    if ("error" in checked) return options.onError(checked.error);
    references = [...references, checked];
    render();
  }

  function addLayer(): void {
    const layerId = Number(pickerValue(el("reference-layer")));
    if (!layerNames.has(layerId)) return options.onError("Choose a layer of this document to use as the reference.");
    add({ kind: "layer", layerId }, layerNames.get(layerId)!);
  }

  async function addFile(): Promise<void> {
    // Checked before the picker opens, so nobody picks a file only to hear the model cannot take it.
    const ready = checkReference({ source: { kind: "layer", layerId: 0 }, label: "", weight: Number(el("reference-weight").value), focus: "all" }, references, options.model());
    if ("error" in ready) return options.onError(ready.error);
    const file = await options.files.pickFile(REFERENCE_FILE_TYPES);
    if (!file) return;
    const size = pngSize(file.bytes);
    if ("error" in size) return options.onError(size.error);
    add({ kind: "file", png: file.bytes, ...size }, file.name);
  }

  el("add-reference-layer").addEventListener("click", addLayer);
  el("add-reference-file").addEventListener("click", () => void addFile().catch((error: unknown) => options.onError(error instanceof Error ? error.message : String(error))));

  return {
    references: () => references,
    fillLayers(layers) {
      layerNames = new Map(layers.map((l) => [l.id, l.name]));
      const current = pickerValue(el("reference-layer"));
      const items = layers.map((l) => ({ value: String(l.id), label: `${"  ".repeat(l.depth)}${l.name}` }));
      setOptions(root, el("reference-layer"), items, items.some((i) => i.value === current) ? current : (items[0]?.value ?? ""));
    },
    fillForModel() {
      const adapters = options.model()?.ip_adapters ?? [];
      for (const id of ["add-reference-layer", "add-reference-file"]) enable(el(id), adapters.length > 0);
      el("reference-hint").textContent = adapters.length ? `IP-Adapter: ${adapters.join(", ")}.` : "This model has no IP-Adapter: choose the diffusers engine and a model that lists one to use reference images.";
    },
  };
}

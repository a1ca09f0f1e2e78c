// The panel's style picker, LoRA chips and control layers: filled from the
// welcome's capabilities for the chosen model, edited through the rules in
// conditioning.ts, read by the panel when Generate is pressed.

import type { ControlKind, ModelInfo, StyleInfo, Welcome } from "./protocol.js";
import {
  addLora, checkControl, controlKindsFor, controlLabel, styleFill, styleTarget, type ControlLayer, type LoraChip, type StyleFill,
} from "./conditioning.js";
import type { Host, LayerSummary } from "./host.js";
import { byId, chip, enable, pickerValue, setOptions, setPicker } from "./widgets.js";

/** The control-layer picker's value for "let the agent derive it from the job's source". */
export const FROM_SOURCE = "source";

export interface ConditioningOptions {
  root: Document;
  host: Host;
  welcome(): Welcome | null;
  /** The model the job will run on, with what it can take. */
  model(): ModelInfo | undefined;
  /**
   * A style was picked: the panel fills (and marks) the fields it sets, its engine and model among them
   * (`target`, null when it runs on the job's own); the LoRA chips are filled here. Empty when cleared.
   */
  onStyle(target: { engine: string; model: string } | null, fill: StyleFill): void;
  onError(message: string): void;
}

export interface Conditioning {
  controls(): ControlLayer[];
  loras(): LoraChip[];
  style(): string;
  setLoras(chips: LoraChip[]): void;
  setStyle(name: string): void;
  /** The welcome arrived: styles. */
  fillStyles(): void;
  /** The engine or model changed: its LoRAs and control kinds. */
  fillForModel(): void;
  /** Re-reads the active document's layers into the layer picker; the layers read. */
  refreshLayers(): Promise<LayerSummary[]>;
}

export function bindConditioning(options: ConditioningOptions): Conditioning {
  const { root, host } = options;
  const el = (id: string) => byId(root, id);
  let controls: ControlLayer[] = [];
  let loras: LoraChip[] = [];
  let layerNames = new Map<number, string>();

  function styles(): StyleInfo[] {
    return options.welcome()?.capabilities.styles ?? [];
  }

  function fillStyles(): void {
    const current = pickerValue(el("style"));
    const names = styles().map((s) => s.name);
    setOptions(root, el("style"), [{ value: "", label: "None" }, ...names.map((n) => ({ value: n, label: n }))], names.includes(current) ? current : "");
    styleHint();
  }

  function styleHint(): void {
    const style = styles().find((s) => s.name === pickerValue(el("style")));
    const sets = styleFill(style).summary;
    el("style-hint").textContent = style ? `${style.description || style.name}${style.model ? ` (runs on ${style.model})` : ""}. ${sets ? `${sets} ` : ""}Marked fields came from the style; what you change wins.` : "";
  }

  function fillForModel(): void {
    const model = options.model();
    const available = model?.loras ?? [];
    setOptions(root, el("lora"), available.map((n) => ({ value: n, label: n })), available[0] ?? "");
    enable(el("add-lora"), available.length > 0);
    const kinds = controlKindsFor(model);
    const kind = pickerValue(el("control-kind"));
    setOptions(root, el("control-kind"), kinds.map((k) => ({ value: k, label: k })), kinds.includes(kind as ControlKind) ? kind : (kinds[0] ?? ""));
    enable(el("add-control"), kinds.length > 0);
    el("conditioning-hint").textContent = kinds.length || available.length ? "" : "This engine and model take no ControlNets or LoRAs: choose the diffusers engine and a model that has them.";
  }

  async function refreshLayers(): Promise<LayerSummary[]> {
    const doc = await host.activeDocument();
    const layers = doc ? await host.layers(doc.id) : [];
    layerNames = new Map(layers.map((l) => [l.id, l.name]));
    const current = pickerValue(el("control-layer"));
    const items = [{ value: FROM_SOURCE, label: "From the source" }, ...layers.map((l) => ({ value: String(l.id), label: `${"  ".repeat(l.depth)}${l.name}` }))];
    setOptions(root, el("control-layer"), items, items.some((i) => i.value === current) ? current : (items[1]?.value ?? FROM_SOURCE));
    return layers;
  }

  function renderLists(): void {
    el("controls").replaceChildren(...controls.map((c, i) => chip(root, controlLabel(c), `Remove control ${i + 1}`, () => {
      controls = controls.filter((other) => other !== c);
      renderLists();
    })));
    el("loras").replaceChildren(...loras.map((l) => chip(root, `${l.name} · ${l.weight}`, `Remove LoRA ${l.name}`, () => {
      loras = loras.filter((other) => other !== l);
      renderLists();
    })));
  }

  function addControl(): void {
    const layer = pickerValue(el("control-layer"));
    const layerId = layer === FROM_SOURCE ? null : Number(layer);
    const kind = pickerValue(el("control-kind")) as ControlKind;
    const control: ControlLayer = {
      layerId, label: layerId === null ? "from the source" : (layerNames.get(layerId) ?? `layer ${layerId}`), kind,
      strength: Number(el("control-strength").value), start: Number(el("control-start").value) / 100, end: Number(el("control-end").value) / 100,
    };
    const checked = checkControl(control, controls, options.model());
    if ("error" in checked) return options.onError(checked.error);
    controls = [...controls, checked];
    renderLists();
  }

  function addLoraChip(): void {
    const added = addLora(loras, { name: pickerValue(el("lora")), weight: Number(el("lora-weight").value) });
    if ("error" in added) return options.onError(added.error);
    loras = added;
    // The chips are the user's now, no longer the style's.
    el("loras").removeAttribute("data-from-style");
    renderLists();
  }

  el("style").addEventListener("change", () => {
    styleHint();
    const style = styles().find((s) => s.name === pickerValue(el("style")));
    const fill = styleFill(style);
    options.onStyle(styleTarget(style, options.welcome()?.capabilities.engines ?? []), fill);
    if (fill.loras) {
      loras = fill.loras;
      renderLists();
    }
  });
  el("add-control").addEventListener("click", addControl);
  el("add-lora").addEventListener("click", addLoraChip);

  return {
    controls: () => controls,
    loras: () => loras,
    style: () => pickerValue(el("style")),
    setLoras(chips) {
      loras = chips;
      renderLists();
    },
    setStyle(name) {
      setPicker(el("style"), name);
      styleHint();
    },
    fillStyles,
    fillForModel,
    refreshLayers,
  };
}

// The panel's DOM: connection status, token, the brief, and one row per job.
// No protocol here; ui.ts wires it to the agent and the main thread.
import { MODES, modeInfo, randomSeed, type Brief } from "../core/brief.js";
import { ASPECTS, type Margins } from "../core/expand.js";
import type { JobOrder, SelectionInfo } from "../core/messages.js";
import type { EngineInfo, LoraRef, Mode, ModelInfo, StyleInfo, Welcome } from "../core/protocol.js";
import type { SizeRules } from "../core/size.js";
import { abilitiesOf, guidanceLabel, keptMode, offeredModes, promptLabel, usesStrength, type ModelAbilities } from "../../../../protocol/client/src/models.js";
import { ReferenceList } from "./references.js";
import type { JobView } from "./runner.js";

function $<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`The panel has no #${id}.`);
  return element as T;
}

function option(value: string, label: string, disabled = false): HTMLOptionElement {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = label;
  element.disabled = disabled;
  return element;
}

export type ConnectionState = "disconnected" | "connecting" | "connected";

export class Panel {
  private welcome: Welcome | null = null;
  readonly token = $<HTMLInputElement>("token");
  private readonly mode = $<HTMLSelectElement>("mode");
  private readonly engine = $<HTMLSelectElement>("engine");
  private readonly model = $<HTMLSelectElement>("model");
  private readonly seed = $<HTMLInputElement>("seed");
  private readonly seedLock = $<HTMLInputElement>("seed-lock");
  private readonly style = $<HTMLSelectElement>("style");
  private readonly loras = $("loras");
  private readonly edges = $<HTMLInputElement>("edges");
  private readonly references = new ReferenceList($("references"));
  /** The selected text layer's brief, which stands in for an empty prompt. */
  private textBrief = "";
  onPair: (token: string) => void = () => undefined;
  onRun: (command: "fill" | "variants" | "set") => void = () => undefined;
  onReseedSet: () => void = () => undefined;
  onExpand: () => void = () => undefined;
  onPickReference: () => void = () => undefined;

  constructor() {
    for (const m of MODES) this.mode.append(option(m.mode, m.label));
    for (const a of ASPECTS) $<HTMLSelectElement>("expand-aspect").append(option(String(a.ratio), a.label));
    $("expand-button").addEventListener("click", () => this.onExpand());
    // No <form>: Figma's sandboxed iframe may not allow form submission.
    $("pair-button").addEventListener("click", () => this.onPair(this.token.value.trim()));
    this.token.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.onPair(this.token.value.trim());
    });
    $("change-token").addEventListener("click", () => {
      $("pair").hidden = false;
      this.token.focus();
    });
    $("fill").addEventListener("click", () => this.onRun("fill"));
    $("variants-button").addEventListener("click", () => this.onRun("variants"));
    $("set-button").addEventListener("click", () => this.onRun("set"));
    $("reseed-set").addEventListener("click", () => this.onReseedSet());
    this.engine.addEventListener("change", () => this.showEngine());
    this.model.addEventListener("change", () => this.showModel());
    this.style.addEventListener("change", () => this.applyStyle());
    $("pick-reference").addEventListener("click", () => this.onPickReference());
    // A field the user changes is theirs, no longer the style's.
    for (const id of ["negative", "engine", "model", "loras"]) $(id).addEventListener("input", () => $(id).classList.remove("from-style"));
    this.mode.addEventListener("change", () => this.showModeNote());
    // An edit's note asks for its instruction until one is typed.
    $("prompt").addEventListener("input", () => this.showModeNote());
    this.setEnabled(false);
  }

  status(state: ConnectionState, text: string, detail = ""): void {
    $("status").dataset.state = state;
    $("status-text").textContent = text;
    $("status-detail").textContent = detail;
    // Once paired the token field folds away; "Token…" brings it back.
    $("pair").hidden = state === "connected";
    $("change-token").hidden = state !== "connected";
    if (state !== "connected") this.setEnabled(false);
  }

  message(text: string, error = false): void {
    const element = $("message");
    element.textContent = text;
    element.classList.toggle("error", error);
  }

  setSelection(selection: SelectionInfo): void {
    const frames = selection.frames === 1 ? "1 frame" : `${selection.frames} frames`;
    const brief = selection.textBrief ? ` · brief from text layer: “${selection.textBrief.slice(0, 60)}”` : "";
    $("selection").textContent = `Selected: ${frames}${brief}`;
    this.textBrief = selection.textBrief;
    this.showModeNote();
  }

  /** Engines and models from the agent's `welcome`; the default engine preselected. */
  connected(welcome: Welcome): void {
    this.welcome = welcome;
    const { engines, default_engine: chosen } = welcome.capabilities;
    this.engine.replaceChildren(...engines.map((e) => option(e.name, e.name)));
    this.engine.value = chosen;
    const styles = welcome.capabilities.styles ?? [];
    this.style.replaceChildren(option("", "No style"), ...styles.map((s) => option(s.name, s.description ? `${s.name} · ${s.description}` : s.name)));
    this.status("connected", `Connected to Underpaint ${welcome.agent.version}`, `${engines.length} engine${engines.length === 1 ? "" : "s"}: ${engines.map((e) => e.name).join(", ")}`);
    this.setEnabled(true);
    this.showEngine();
  }

  selectedEngine(): EngineInfo | null {
    return this.welcome?.capabilities.engines.find((e) => e.name === this.engine.value) ?? null;
  }

  private showEngine(): void {
    const engine = this.selectedEngine();
    if (!engine) return;
    const models = engine.models ?? [];
    this.model.replaceChildren(...(models.length ? models.map((m) => option(m, m)) : [option("", "default")]));
    this.model.disabled = models.length === 0;
    this.showModel();
  }

  /** What the chosen model can do; null before the agent answered. */
  abilities(): ModelAbilities | null {
    const engine = this.selectedEngine();
    return engine ? abilitiesOf(engine, this.model.value) : null;
  }

  /** The mode menu lists only the chosen model's modes, keeping the chosen one where the model has it. */
  private showModes(): void {
    const model = this.abilities();
    const modes = MODES.map((m) => m.mode);
    const offered = model ? offeredModes(modes, model) : modes;
    const chosen = keptMode(this.mode.value, offered);
    this.mode.replaceChildren(...offered.map((mode) => option(mode, modeInfo(mode).label)));
    if (chosen) this.mode.value = chosen;
    this.showModeNote();
  }

  /**
   * A picked style fills (and marks) the fields it sets: its model (and the engine offering it), its negative
   * prompt, its LoRAs; the note names all it sets. The agent fills the rest, and what the user changes wins.
   */
  private applyStyle(): void {
    const style = this.welcome?.capabilities.styles?.find((s) => s.name === this.style.value);
    const sets = style?.sets ?? {};
    for (const marked of document.querySelectorAll(".from-style")) marked.classList.remove("from-style");
    const mark = (id: string): void => $(id).classList.add("from-style");
    const model = style?.model;
    const engine = model && this.welcome?.capabilities.engines.find((e) => e.models?.includes(model));
    if (model && engine) {
      this.engine.value = engine.name;
      this.showEngine();
      this.model.value = model;
      this.showModel();
      mark("engine");
      mark("model");
    }
    if (sets.negative_prompt !== undefined) {
      $<HTMLInputElement>("negative").value = sets.negative_prompt;
      mark("negative");
    }
    if (sets.loras) {
      const weights = new Map(sets.loras.map((l) => [l.name, l.weight ?? 1]));
      for (const chip of this.loras.querySelectorAll<HTMLElement>(".chip")) {
        chip.querySelector<HTMLInputElement>("input[type=checkbox]")!.checked = weights.has(chip.dataset.lora!);
        if (weights.has(chip.dataset.lora!)) chip.querySelector<HTMLInputElement>("input[type=number]")!.value = String(weights.get(chip.dataset.lora!));
      }
      mark("loras");
    }
    $("style-note").textContent = style ? styleNote(style) : "";
  }

  /** A node picked as a reference (the main thread's answer to Use selection). */
  addReference(nodeId: string, name: string): void {
    const problem = this.references.add(nodeId, name);
    this.message(problem ?? "", Boolean(problem));
  }

  private modelDetails(): ModelInfo | null {
    return this.selectedEngine()?.model_details?.find((m) => m.name === this.model.value) ?? null;
  }

  /** LoRA chips and the edges control for the chosen model: only the add-ons registered for its architecture. */
  private showModel(): void {
    const details = this.modelDetails();
    this.loras.replaceChildren(...(details?.loras ?? []).map((name) => {
      const chip = document.createElement("label");
      chip.className = "chip";
      chip.innerHTML = `<input type="checkbox"><span></span><input type="number" min="-2" max="2" step="0.1" value="1" aria-label="weight">`;
      chip.dataset.lora = name;
      chip.querySelector("span")!.textContent = name;
      return chip;
    }));
    $("loras-field").hidden = this.loras.childElementCount === 0;
    $("references-field").hidden = !details?.ip_adapters?.length;
    const canny = Boolean(details?.controlnets?.some((c) => c.kind === "canny") && details.preprocessors?.includes("canny"));
    $("edges-field").hidden = !canny;
    if (!canny) this.edges.checked = false;
    this.showModes();
  }

  private chosenLoras(): LoraRef[] {
    return [...this.loras.querySelectorAll<HTMLElement>(".chip")]
      .filter((chip) => chip.querySelector<HTMLInputElement>("input[type=checkbox]")!.checked)
      .map((chip) => ({ name: chip.dataset.lora!, weight: Math.min(2, Math.max(-2, Number(chip.querySelector<HTMLInputElement>("input[type=number]")!.value) || 0)) }));
  }

  /** The note, and the fields the mode and model take: an edit's prompt is the change to make. */
  private showModeNote(): void {
    $("mode-note").textContent = this.modeProblem() ?? this.promptNote();
    const mode = this.mode.value as Mode;
    const prompt = promptLabel(mode);
    $("prompt-label").textContent = prompt.label;
    $<HTMLTextAreaElement>("prompt").placeholder = mode === "edit" ? prompt.placeholder : this.textBrief || "Describe the image, or select a text layer";
    $("strength-field").hidden = !usesStrength(mode);
    const guidance = guidanceLabel(this.abilities()?.guidance ?? "cfg");
    $("guidance-field").hidden = guidance === null;
    $("guidance-label").textContent = guidance ?? "";
  }

  private promptNote(): string {
    const engine = this.selectedEngine();
    return engine && !engine.uses_prompt ? `The ${engine.name} engine ignores prompts: it continues the frame's own pixels.` : "";
  }

  /** Why the chosen mode cannot run on the chosen model (or, for an edit, without an instruction), or null. */
  modeProblem(): string | null {
    const model = this.abilities();
    const mode = this.mode.value as Mode;
    if (model && !model.modes.includes(mode)) {
      return `The chosen model cannot ${mode || "do any of this panel's modes"}; it offers ${model.modes.join(", ")}. Pick another model, or start the agent with a diffusion engine (underpaint serve --engine diffusers).`;
    }
    if (mode === "edit" && !$<HTMLTextAreaElement>("prompt").value.trim() && !this.textBrief.trim()) {
      return "Describe the change to make (for example: make the jacket red).";
    }
    return null;
  }

  private setEnabled(enabled: boolean): void {
    for (const id of ["fill", "variants-button", "set-button", "reseed-set", "expand-button"]) $<HTMLButtonElement>(id).disabled = !enabled;
  }

  /** The brief as chosen; an unlocked seed is drawn now and shown, so the user sees what ran. */
  brief(): Brief {
    let seed = Number(this.seed.value);
    if (!this.seedLock.checked || !Number.isInteger(seed) || seed < 0) {
      seed = randomSeed();
      this.seed.value = String(seed);
    }
    const variants = Math.min(16, Math.max(1, Math.round(Number($<HTMLInputElement>("variants").value) || 1)));
    const mode = this.mode.value as Mode;
    const guidance = $<HTMLInputElement>("guidance").value.trim();
    return {
      ...(usesStrength(mode) && { strength: Number($<HTMLInputElement>("strength").value) / 100 }),
      // Only a guidance the model steers by, and only when the user set one.
      ...(!$("guidance-field").hidden && guidance !== "" && Number.isFinite(Number(guidance)) && { guidance: Math.min(30, Math.max(0, Number(guidance))) }),
      mode: this.mode.value as Mode, prompt: $<HTMLTextAreaElement>("prompt").value, negativePrompt: $<HTMLInputElement>("negative").value,
      variants, seed, engine: this.engine.value || null, model: this.model.value || null, style: this.style.value,
      loras: this.chosenLoras(), edges: this.edges.checked,
      // References only where the model has an IP-Adapter to take them.
      references: $("references-field").hidden ? [] : this.references.choices(),
    };
  }

  /** Expand's margins in frame units (blank or bad entries count as 0), or the aspect chosen instead. */
  expandChoice(): { margins: Margins; aspect: number | null } {
    const side = (name: string): number => Math.max(0, Math.round(Number($<HTMLInputElement>(`expand-${name}`).value) || 0));
    const aspect = Number($<HTMLSelectElement>("expand-aspect").value);
    return { margins: { left: side("left"), top: side("top"), right: side("right"), bottom: side("bottom") }, aspect: aspect > 0 ? aspect : null };
  }

  rules(): SizeRules {
    const engine = this.selectedEngine();
    const limits = this.welcome?.capabilities.limits;
    // The size hints follow the chosen model's native sizes (a FLUX model works larger than SD 1.5).
    const abilities = this.abilities();
    return { multiple: abilities?.multiple ?? engine?.multiple ?? 8, nativeMin: abilities?.nativeMin ?? 64, maxPixels: limits?.max_pixels ?? 16_777_216 };
  }

  /** A row with a progress bar and a cancel button for one job. */
  addJob(order: JobOrder, cancel: () => void): JobView {
    const row = document.createElement("li");
    row.dataset.job = order.jobId;
    row.dataset.state = "sent";
    row.dataset.maxProgress = "0";
    row.innerHTML = `<div class="head"><span class="name"></span><button class="cancel" type="button">Cancel</button></div><div class="bar"><div></div></div><div class="text hint">Sending…</div>`;
    row.querySelector(".name")!.textContent = `${order.label} · ${order.mode}`;
    const bar = row.querySelector<HTMLElement>(".bar > div")!;
    const text = row.querySelector<HTMLElement>(".text")!;
    const button = row.querySelector<HTMLButtonElement>(".cancel")!;
    button.addEventListener("click", () => {
      button.disabled = true;
      text.textContent = "Cancelling…";
      cancel();
    });
    $("jobs").prepend(row);
    const variants = order.params.variants ?? 1;
    return {
      accepted: (position) => {
        row.dataset.state = "accepted";
        text.textContent = position > 0 ? `Queued (${position} ahead)` : "Starting…";
      },
      progress: (fraction, variant, step, steps) => {
        row.dataset.state = "running";
        row.dataset.maxProgress = String(Math.max(Number(row.dataset.maxProgress), fraction));
        bar.style.width = `${Math.round(fraction * 100)}%`;
        text.textContent = `Variant ${variant + 1} of ${variants} · step ${step} of ${steps}`;
      },
      variantReady: (variant, seed) => {
        text.textContent = `Variant ${variant + 1} of ${variants} placed (seed ${seed})`;
      },
      finished: (state, message) => {
        row.dataset.state = state;
        if (state === "done") bar.style.width = "100%";
        text.textContent = message;
        button.remove();
      },
    };
  }
}

/** "Sets prompt “{prompt}, ink wash”, negative prompt “photo”, LoRA ink 0.8, steps 2." for the style note. */
function styleNote(style: StyleInfo): string {
  const sets = style.sets ?? {};
  const parts: string[] = [];
  if (sets.prompt) parts.push(`prompt “${sets.prompt}”`);
  if (sets.negative_prompt) parts.push(`negative prompt “${sets.negative_prompt}”`);
  if (sets.model) parts.push(`model ${sets.model}`);
  for (const lora of sets.loras ?? []) parts.push(`LoRA ${lora.name} ${lora.weight ?? 1}`);
  for (const key of ["steps", "guidance", "scheduler", "strength"] as const) if (sets[key] !== undefined) parts.push(`${key} ${sets[key]}`);
  if (sets.references?.length) parts.push(`${sets.references.length} reference image${sets.references.length === 1 ? "" : "s"}`);
  return parts.length ? `Sets ${parts.join(", ")}. Marked fields came from the style.` : "";
}

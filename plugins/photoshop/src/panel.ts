// The panel's UI code: binds the Spectrum widgets in index.html to the
// connection, the job controller and the state machine. No Photoshop here:
// the host comes in from main.ts (Photoshop) or the test harness (a fake).

import { abilitiesOf, guidanceLabel, keptMode, offeredModes, promptLabel, type EngineInfo, type Mode, type ModelAbilities, type Params, type Recipe, type SocketFactory, type Welcome } from "./protocol.js";
import { Connection, explain, type ConnectionStatus } from "./connection.js";
import { formFromRecipe, lorasFromRecipe, randomSeed, requestFromForm, type FormValues } from "./form.js";
import { JobHistory, type HistoryStorage } from "./history.js";
import type { FilePicker, Host } from "./host.js";
import { JobController, type JobRequest } from "./job.js";
import { MODE_LABELS, MODES } from "./modes.js";
import { initialState, reduce, view, type PanelEvent, type PanelState } from "./state.js";
import { modelInfo } from "./conditioning.js";
import { bindConditioning } from "./panel-conditioning.js";
import { bindHistory, type Reuse } from "./panel-history.js";
import { bindReferences } from "./panel-references.js";
import { resumeRunning } from "./panel-resume.js";
import { RunningJobs } from "./running.js";
import { byId, enable, pickerValue, setOptions, setPicker, type Widget } from "./widgets.js";

/** Widget ids of the fields a style can fill, by FormValues key (and "loras" for the chips). */
const FIELD_IDS: Record<string, string> = { negativePrompt: "negative", strength: "strength", engine: "engine", model: "model", loras: "loras" };

export interface TokenStore {
  load(): Promise<string>;
  save(token: string): Promise<void>;
}

export interface PanelOptions {
  root: Document;
  host: Host;
  tokens: TokenStore;
  socketFactory: SocketFactory;
  url: string;
  random?: () => number;
  /** Where each document's jobs, and the jobs sent but not yet placed, are kept between sessions. */
  historyStorage: HistoryStorage;
  /** The file picker reference images come from. */
  files: FilePicker;
}

export interface PanelHandle {
  connection: Connection;
  history: JobHistory;
  running: RunningJobs;
  state(): PanelState;
}

export function startPanel(options: PanelOptions): PanelHandle {
  const { root, host, tokens } = options;
  const el = (id: string): Widget => byId(root, id);
  const history = new JobHistory(options.historyStorage);
  const running = new RunningJobs(options.historyStorage);
  /** Resumes what a closed panel left running, once per pairing (the client itself resumes across dropped lines). */
  let resumed = false;
  let state = initialState;
  let welcome: Welcome | null = null;

  const connection = new Connection({ url: options.url, socketFactory: options.socketFactory, onStatus });
  const controller = new JobController(host, () => connection.client, { running });

  function dispatch(event: PanelEvent): void {
    state = reduce(state, event);
    render();
  }

  function onStatus(status: ConnectionStatus): void {
    if (status.state === "online") {
      welcome = status.welcome;
      fillEngines(status.welcome);
      if (!resumed) {
        resumed = true;
        resumeLeftRunning();
      }
    }
    if (status.state === "offline" && controller.running) controller.abandon(new Error(status.reason));
    dispatch({ type: "connection", status });
  }

  const conditioning = bindConditioning({
    root, host,
    welcome: () => welcome,
    model: () => modelInfo(engineInfo(), pickerValue(el("model"))),
    onStyle: (target, fill) => {
      writeForm({ ...target, ...fill.form });
      const keys = [...Object.keys(fill.form), ...(target ? ["engine", "model"] : []), ...(fill.loras ? ["loras"] : [])];
      markFromStyle(keys.map((key) => FIELD_IDS[key] ?? key));
    },
    onError: (message) => dispatch({ type: "failed", message }),
  });
  const references = bindReferences({
    root, files: options.files,
    model: () => modelInfo(engineInfo(), pickerValue(el("model"))),
    onError: (message) => dispatch({ type: "failed", message }),
  });
  const jobs = bindHistory({ root, host, history, reuse });
  const renderHistory = (): Promise<void> => jobs.render();

  /** A recipe back into the fields; its params are resolved, so the style picker goes back to None. */
  function reuse(recipe: Recipe, how: Reuse): void {
    writeForm({ ...formFromRecipe(recipe), seedLocked: how !== "vary", style: "" });
    markFromStyle([]);
    conditioning.setLoras(lorasFromRecipe(recipe));
    if (how !== "fill") void generate(recipe.params);
  }

  function readForm(): FormValues {
    return {
      mode: pickerValue(el("mode")), prompt: el("prompt").value ?? "", negativePrompt: el("negative").value ?? "",
      engine: pickerValue(el("engine")), model: pickerValue(el("model")), variants: el("variants").value ?? "",
      seed: el("seed").value ?? "", seedLocked: !!el("seed-lock").checked, strength: String(el("strength").value ?? "60"), guidance: el("guidance").value ?? "",
      expandLeft: el("expand-left").value ?? "", expandTop: el("expand-top").value ?? "",
      expandRight: el("expand-right").value ?? "", expandBottom: el("expand-bottom").value ?? "",
    };
  }

  function writeForm(values: Partial<FormValues>): void {
    if (values.mode !== undefined) setPicker(el("mode"), values.mode);
    if (values.engine !== undefined) {
      setPicker(el("engine"), values.engine);
      if (welcome) fillModels(welcome);
    }
    if (values.model !== undefined) setPicker(el("model"), values.model);
    if (values.engine !== undefined || values.model !== undefined) modelChanged();
    const fields: [keyof FormValues, string][] = [["prompt", "prompt"], ["negativePrompt", "negative"], ["variants", "variants"], ["seed", "seed"], ["strength", "strength"], ["guidance", "guidance"],
      ["expandLeft", "expand-left"], ["expandTop", "expand-top"], ["expandRight", "expand-right"], ["expandBottom", "expand-bottom"]];
    for (const [key, id] of fields) if (values[key] !== undefined) el(id).value = String(values[key]);
    if (values.seedLocked !== undefined) el("seed-lock").checked = values.seedLocked;
    if (values.style !== undefined) conditioning.setStyle(values.style);
    render();
  }

  /** Marks the widgets a picked style filled (ids), unmarking the rest; editing a marked field unmarks it. */
  function markFromStyle(ids: string[]): void {
    for (const marked of root.querySelectorAll("[data-from-style]")) marked.removeAttribute("data-from-style");
    for (const id of ids) el(id).setAttribute("data-from-style", "");
  }

  function modelChanged(): void {
    fillModes();
    conditioning.fillForModel();
    references.fillForModel();
  }

  function resumeLeftRunning(): void {
    const jobs = resumeRunning(connection.client, {
      host, running, history,
      following: () => (controller.running ? [controller.running] : []),
      notice: (kind, text) => dispatch({ type: "notice", kind, text }),
      placed: () => void renderHistory(),
    });
    for (const job of jobs) job.catch((error: unknown) => dispatch({ type: "notice", kind: "error", text: explain(error, options.url) }));
  }

  // agent capabilities

  /** What the chosen model can do; undefined before the agent answered. */
  function abilities(): ModelAbilities | undefined {
    const engine = engineInfo();
    return engine && abilitiesOf(engine, pickerValue(el("model")));
  }

  /** The mode menu lists only the chosen model's modes, keeping the chosen one where the model has it. */
  function fillModes(): void {
    const model = abilities();
    const offered = model ? offeredModes(MODES, model) : MODES;
    setOptions(root, el("mode"), offered.map((m) => ({ value: m, label: MODE_LABELS[m] })), keptMode(pickerValue(el("mode")), offered) ?? "");
  }

  function engineInfo(): EngineInfo | undefined {
    const name = pickerValue(el("engine")) || welcome?.capabilities.default_engine;
    return welcome?.capabilities.engines.find((e) => e.name === name);
  }

  function fillEngines(w: Welcome): void {
    const current = pickerValue(el("engine"));
    const names = w.capabilities.engines.map((e) => e.name);
    setOptions(root, el("engine"), names.map((n) => ({ value: n, label: n })), names.includes(current) ? current : w.capabilities.default_engine);
    fillModels(w);
    conditioning.fillStyles();
  }

  function fillModels(w: Welcome): void {
    const models = w.capabilities.engines.find((e) => e.name === pickerValue(el("engine")))?.models ?? [];
    const current = pickerValue(el("model"));
    setOptions(root, el("model"), [{ value: "", label: models.length ? "Engine default" : "None (no weights)" }, ...models.map((m) => ({ value: m, label: m }))], models.includes(current) ? current : "");
    modelChanged();
  }

  /** A sentence about the chosen mode and model; blocks when Generate cannot go. */
  function modeHint(): { text: string; blocks: boolean } {
    const mode = pickerValue(el("mode"));
    const engine = engineInfo();
    const model = abilities();
    if (!engine || !model) return { text: "", blocks: false };
    if (!model.modes.includes(mode as Mode)) {
      const can = offeredModes(MODES, model).map((m) => MODE_LABELS[m]).join(", ");
      const who = pickerValue(el("model")) ? `The model ${pickerValue(el("model"))}` : `The ${engine.name} engine`;
      return { text: `${who} cannot do ${MODE_LABELS[mode as Mode] ?? mode}; it does ${can}.`, blocks: true };
    }
    if (!engine.uses_prompt) return { text: `The ${engine.name} engine ignores prompts: it fills from the surroundings.`, blocks: false };
    return { text: "", blocks: false };
  }

  // rendering

  function render(): void {
    const v = view(state);
    const status = el("status");
    status.textContent = state.connectionText;
    status.className = `status ${state.connection}`;
    const hint = modeHint();
    el("mode-hint").textContent = hint.text;
    enable(el("generate"), v.canGenerate && !hint.blocks);
    enable(el("cancel"), v.canCancel);
    el("progress-area").hidden = !v.showProgress;
    el("progress").setAttribute("value", String(v.progress));
    el("progress-label").textContent = v.progressLabel;
    const message = el("message");
    message.textContent = state.message?.text ?? "";
    message.className = `message ${state.message?.kind ?? ""}`;
    const mode = pickerValue(el("mode"));
    for (const row of root.querySelectorAll<HTMLElement>(".mode-only")) row.hidden = !(row.dataset.mode ?? "").split(" ").includes(mode);
    const prompt = promptLabel(mode as Mode);
    el("prompt-label").textContent = prompt.label;
    el("prompt").setAttribute("placeholder", prompt.placeholder);
    const guidance = guidanceLabel(abilities()?.guidance ?? "cfg");
    el("guidance-row").hidden = guidance === null;
    el("guidance-label").textContent = guidance ?? "";
  }

  function showPreview(variant: number, png: Uint8Array): void {
    // UXP's <img> takes data URLs; this is display only, the protocol never sees base64.
    let binary = "";
    for (let i = 0; i < png.length; i += 0x8000) binary += String.fromCharCode(...png.subarray(i, i + 0x8000));
    const previews = el("previews");
    let img = previews.querySelector<HTMLImageElement>(`img[data-variant="${variant}"]`);
    if (!img) {
      img = root.createElement("img");
      img.dataset.variant = String(variant);
      img.alt = `Variant ${variant + 1} preview`;
      previews.append(img);
    }
    img.src = `data:image/png;base64,${btoa(binary)}`;
  }

  // actions

  /** `base`: a recipe's params to run again; the fields (and the marked controls) win over it. */
  async function generate(base?: Params): Promise<void> {
    if (!view(state).canGenerate) return;
    const values = readForm();
    if (!values.seedLocked) {
      values.seed = String(randomSeed(options.random));
      el("seed").value = values.seed;
    }
    const parsed = requestFromForm(values, welcome?.capabilities.limits ?? { max_variants: 16 }, abilities());
    if ("error" in parsed) {
      dispatch({ type: "failed", message: parsed.error });
      return;
    }
    const request: JobRequest = {
      ...parsed, controls: conditioning.controls(), loras: conditioning.loras(), references: references.references(), style: conditioning.style() || undefined, base,
    };
    el("previews").replaceChildren();
    dispatch({ type: "start", variants: request.variants });
    try {
      const outcome = await controller.run(request, {
        onPhase: (phase, jobId) => dispatch({ type: "phase", phase, jobId }),
        onProgress: (m) => dispatch({ type: "progress", fraction: m.fraction }),
        onPreview: (m, png) => showPreview(m.variant, png),
        onResult: (_variant, received) => dispatch({ type: "result", received }),
      });
      if (outcome.state === "done") {
        history.add(outcome.document, {
          jobId: outcome.jobId, label: request.prompt.trim() || MODE_LABELS[request.mode], layers: outcome.layers, recipe: outcome.recipe, layerIds: outcome.layerIds,
        });
      }
      dispatch({ type: "finished", outcome });
    } catch (error) {
      dispatch({ type: "failed", message: explain(error, options.url) });
    }
    await renderHistory();
  }

  async function connect(): Promise<void> {
    const token = (el("token").value ?? "").trim();
    if (token) await tokens.save(token);
    await connection.connect(token);
  }

  el("generate").addEventListener("click", () => void generate());
  el("cancel").addEventListener("click", () => controller.cancel());
  el("connect").addEventListener("click", () => void connect());
  el("mode").addEventListener("change", render);
  el("engine").addEventListener("change", () => {
    if (welcome) fillModels(welcome);
    render();
  });
  el("model").addEventListener("change", modelChanged);
  root.body.addEventListener("pointerenter", () => void Promise.all([renderHistory(), conditioning.refreshLayers().then(references.fillLayers)]));
  for (const id of Object.values(FIELD_IDS)) el(id).addEventListener("input", () => el(id).removeAttribute("data-from-style"));

  render();
  void tokens.load().then((token) => {
    if (!token) {
      dispatch({ type: "connection", status: { state: "offline", reason: "Paste the pairing token (run `underpaint token`) and press Connect." } });
      return;
    }
    el("token").value = token;
    void connection.connect(token);
  });

  return { connection, history, running, state: () => state };
}

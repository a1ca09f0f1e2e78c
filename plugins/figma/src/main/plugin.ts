// The main thread: figma API only, no network. It turns commands into job
// orders for the UI and the UI's images into fills, each its own undo step.
import { parseUiMessage, type JobOrder, type MainToUi, type UiToMain } from "../core/messages.js";
import { expandOrders, fillOrders, relaunchOrders, reseedSetOrders, selectedReference, setOrders, UserError, variantOrder } from "./orders.js";
import { attachRecipe, placeImage, removePlaceholders } from "./results.js";
import { selectionInfo } from "./targets.js";

export const TOKEN_KEY = "underpaint.token";
/** Developers may point the panel at another agent; Figma's manifest still only allows port 7433. */
export const AGENT_URL_KEY = "underpaint.agentUrl";
export const DEFAULT_AGENT_URL = "ws://localhost:7433/v1/ws";
export const UI_SIZE = { width: 320, height: 680 };

interface Running {
  order: JobOrder;
  placed: Map<string, { variant: number; seed: number }>;
}

export class Plugin {
  private readonly jobs = new Map<string, Running>();
  /** A relaunch button waits for the UI's connection before it can submit. */
  private pendingRelaunch: "regenerate" | "vary" | null;

  constructor(readonly command: string) {
    this.pendingRelaunch = command === "regenerate" || command === "vary" ? command : null;
  }

  send(message: MainToUi): void {
    if (message.type === "job") this.jobs.set(message.order.jobId, { order: message.order, placed: new Map() });
    figma.ui.postMessage(message);
  }

  /** Handles one message from the UI; anything malformed is dropped. */
  async receive(raw: unknown): Promise<void> {
    const message = parseUiMessage(raw);
    if (!message) return;
    try {
      await this.handle(message);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      figma.notify(text, { error: !(error instanceof UserError) });
      this.send({ type: "notice", text });
    }
  }

  private async handle(message: UiToMain): Promise<void> {
    const send = (m: MainToUi): void => this.send(m);
    switch (message.type) {
      case "ready": {
        const token = ((await figma.clientStorage.getAsync(TOKEN_KEY)) as string | undefined) ?? "";
        const agentUrl = ((await figma.clientStorage.getAsync(AGENT_URL_KEY)) as string | undefined) ?? DEFAULT_AGENT_URL;
        this.send({ type: "init", token, agentUrl, command: this.command || null, selection: selectionInfo() });
        return;
      }
      case "save-token":
        await figma.clientStorage.setAsync(TOKEN_KEY, message.token.trim());
        return;
      case "connected":
        if (this.pendingRelaunch) {
          const command = this.pendingRelaunch;
          this.pendingRelaunch = null;
          await relaunchOrders(command, send);
        }
        return;
      case "run":
        if (message.command === "fill") await fillOrders(message.brief, message.rules, send);
        else if (message.command === "set") await setOrders(message.brief, message.rules, send);
        else await variantOrder(message.brief, message.rules, send);
        return;
      case "reseed-set":
        await reseedSetOrders(send);
        return;
      case "pick-reference": {
        const node = selectedReference();
        this.send({ type: "reference", nodeId: node.id, name: node.name });
        return;
      }
      case "expand":
        await expandOrders(message.brief, message.rules, message.margins, message.aspect, send);
        return;
      case "image": {
        const job = this.jobs.get(message.jobId);
        if (job && (await placeImage(message, job.order))) job.placed.set(message.target, { variant: message.variant, seed: message.seed });
        return;
      }
      case "finished":
        return this.finish(message);
      case "notify":
        figma.notify(message.text, { error: message.error });
    }
  }

  private async finish(message: Extract<UiToMain, { type: "finished" }>): Promise<void> {
    const job = this.jobs.get(message.jobId);
    if (!job) return;
    this.jobs.delete(message.jobId);
    if (message.state === "done" && message.recipe) await attachRecipe(job.order, job.placed, message.recipe);
    if (message.state !== "done") {
      await removePlaceholders(job.order);
      if (message.state === "error") figma.notify(message.message, { error: true });
    }
  }
}

/** Opens the panel and wires the figma events; returns the plugin for tests. */
export function startPlugin(): Plugin {
  const plugin = new Plugin(figma.command);
  figma.showUI(__html__, { ...UI_SIZE, themeColors: true, title: "Underpaint" });
  figma.ui.onmessage = (message: unknown) => plugin.receive(message);
  figma.on("selectionchange", () => plugin.send({ type: "selection", selection: selectionInfo() }));
  return plugin;
}

// postMessage between the UI iframe and the main thread, in Figma's envelope
// ({pluginMessage}). One image per message keeps each structured clone small.
import { parseMainMessage, type MainToUi, type UiToMain } from "../core/messages.js";

export function post(message: UiToMain): void {
  parent.postMessage({ pluginMessage: message }, "*");
}

export function onMain(handler: (message: MainToUi) => void): void {
  window.addEventListener("message", (event: MessageEvent) => {
    const message = parseMainMessage((event.data as { pluginMessage?: unknown } | null)?.pluginMessage);
    if (message) handler(message);
  });
}

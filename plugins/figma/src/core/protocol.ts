// Type-only view of the wire contract, so main-thread code (which has no network
// and must not bundle the client) shares the generated message types.
export type { Mode, Params, Recipe, Rect, Welcome, EngineInfo, LoraRef, ModelInfo, ReferenceRef, StyleInfo } from "../../../../protocol/client/src/messages.gen.js";

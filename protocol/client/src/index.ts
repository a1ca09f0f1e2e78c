export * from "./client.js";
export * from "./frames.js";
export * from "./reconnect.js";
export * from "./socket.js";
export type * from "./messages.gen.js";
export * from "./models.js";

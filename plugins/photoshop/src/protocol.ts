// The shared protocol client lives in protocol/client (also used by the Figma
// plugin); this is the plugin's one door to it, so a move touches one line.
export * from "../../../protocol/client/src/index.js";

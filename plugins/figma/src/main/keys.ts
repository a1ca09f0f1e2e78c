// Plugin-data keys on nodes. Private to this plugin (setPluginData), so other
// plugins cannot read or break them.

/** The NodeRecipe JSON of the result the node shows. */
export const RECIPE_KEY = "recipe";
/** The node's fills before its first result, so Regenerate starts from the same pixels. */
export const SOURCE_KEY = "source";
/** Job id on a placeholder copy still waiting for its variant. */
export const PENDING_KEY = "pending";

/** Relaunch commands; manifest.json's relaunchButtons list the same (a test checks). */
export const RELAUNCH_COMMANDS = ["regenerate", "vary"] as const;

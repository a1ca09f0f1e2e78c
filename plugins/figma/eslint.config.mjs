// Lints the plugin with Figma's own rules (deprecated and sync APIs that
// dynamic-page forbids) on top of typescript-eslint's type-aware checks.
import * as figmaPlugin from "@figma/eslint-plugin-figma-plugins";
import tseslint from "typescript-eslint";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

export default tseslint.config(
  { ignores: ["dist/**"] },
  {
    files: ["**/*.ts", "**/*.mts"],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: "./tsconfig.json", tsconfigRootDir: dirname(fileURLToPath(import.meta.url)) },
    },
    plugins: { "@figma/figma-plugins": figmaPlugin },
    rules: {
      ...figmaPlugin.flatConfigs.recommended.rules,
      // Handlers deliberately start async work from sync callbacks (figma.ui.onmessage, DOM events).
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
    },
  },
);

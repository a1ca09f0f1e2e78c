import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["protocol/client/test/**/*.test.ts", "plugins/*/test/**/*.test.ts", "web/test/**/*.test.ts"],
    globalSetup: ["protocol/client/test/agent.setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

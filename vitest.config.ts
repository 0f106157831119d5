import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Two cores: keep worker count small so child-process tests are not starved.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests that read logs attach their own transport; the console stays quiet.
    env: { WECOM_RELAY_LOG_LEVEL: "silent" },
  },
});

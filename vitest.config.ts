import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts", "test/component/**/*.test.ts", "test/adapters/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          // One real control plane per run, shared by the scenario files, which run one at a time.
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/e2e/global-setup.ts"],
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    // The real-cluster suite boots one shared environment; it has its own config section below.
    pool: "forks",
  },
});

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
          // test/image builds the Dockerfile with buildah and runs the image (root only).
          include: ["test/e2e/**/*.test.ts", "test/image/**/*.test.ts"],
          exclude: ["test/e2e/real/**"],
          globalSetup: ["test/e2e/global-setup.ts"],
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          // A real kubelet, containerd and Kaniko (root only). `npm test` runs it after the other
          // projects, not beside them: two clusters at once would fight over the cores.
          name: "real",
          include: ["test/e2e/real/**/*.test.ts"],
          globalSetup: ["test/e2e/real/global-setup.ts"],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 900_000,
          teardownTimeout: 300_000,
        },
      },
    ],
  },
});

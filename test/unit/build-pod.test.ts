import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { cleanLines, failureReason, kanikoErrorLine, startFailure } from "../../src/adapters/build/pod.ts";

const pod = (state: object, limits?: Record<string, string>): V1Pod => ({
  metadata: { name: "build-x-1-abc" },
  spec: { containers: [{ name: "kaniko", resources: limits ? { limits } : undefined }] },
  status: { containerStatuses: [{ name: "kaniko", image: "k", imageID: "", ready: false, restartCount: 0, state }] },
});
const failedJob = (reason?: string): V1Job => ({ status: { conditions: [{ type: "Failed", status: "True", reason }] } as V1Job["status"] });

describe("a build pod that cannot start", () => {
  it.each([
    ["CreateContainerConfigError", 'secret "git-token" not found', /create the Secret/],
    ["ImagePullBackOff", "Back-off pulling image", /KANIKO_IMAGE/],
    ["InvalidImageName", "bad", /valid image reference/],
  ])("%s is a failure a person must fix", (reason, message, remedy) => {
    const failure = startFailure(pod({ waiting: { reason, message } }));
    expect(failure?.message).toBe(`build pod build-x-1-abc cannot start: ${reason}: ${message}`);
    expect(failure?.remedy).toMatch(remedy);
  });

  it.each([["ContainerCreating"], ["ErrImagePull"], ["PodInitializing"]])("%s may still start: keep waiting", (reason) => {
    expect(startFailure(pod({ waiting: { reason } }))).toBeUndefined();
  });

  it("a running or absent pod is no failure", () => {
    expect(startFailure(pod({ running: {} }))).toBeUndefined();
    expect(startFailure(undefined)).toBeUndefined();
  });
});

describe("why a build failed", () => {
  it("out of memory names the limit and the setting", () => {
    expect(failureReason(failedJob(), pod({ terminated: { exitCode: 137, reason: "OOMKilled" } }, { memory: "512Mi" }), 1200))
      .toBe("the build ran out of memory at its 512Mi limit (OOMKilled); raise BUILD_MEMORY_LIMIT");
  });

  it("a deadline names BUILD_TIMEOUT", () => {
    expect(failureReason(failedJob("DeadlineExceeded"), undefined, 600)).toBe("the build did not finish within BUILD_TIMEOUT (600s)");
  });

  it("otherwise Kaniko's own error line from the termination message", () => {
    const message = "\u001b[36mINFO\u001b[0m[0001] Retrieving image manifest busybox\nerror building image: error building stage: failed to execute command: waiting for process to exit: exit status 3\n";
    expect(failureReason(failedJob(), pod({ terminated: { exitCode: 1, reason: "Error", message } }), 60))
      .toBe("building image: error building stage: failed to execute command: waiting for process to exit: exit status 3 (exit code 1)");
  });

  it("a log read after the failure wins over a termination message cut to Kaniko's usage text", () => {
    const usage = "  -v, --verbosity string   Log level (trace, debug, info, warn, error, fatal, panic)\nUse \"executor [command] --help\" for more information about a command.\n";
    const log = `INFO[0000] Resolving\nError: error resolving source context: authentication required: \nUsage:\n${usage}`;
    expect(failureReason(failedJob(), pod({ terminated: { exitCode: 1, reason: "Error", message: usage } }), 60, log))
      .toBe("resolving source context: authentication required (exit code 1)");
  });

  it("a pod with no message says its exit code", () => {
    expect(failureReason(failedJob(), pod({ terminated: { exitCode: 2, reason: "Error" } }), 60)).toBe("build pod exited with code 2 (Error)");
  });
});

describe("Kaniko's output as a person reads it", () => {
  it("drops colour codes, carriage-return progress meters and blank lines", () => {
    const raw = "\u001b[36mINFO\u001b[0m[0000] Resolved\nEnumerating objects: 10% (1/10)\rEnumerating objects: 100% (10/10)\nReceiving objects:  50% (5/10)\r\n\nINFO[0002] Pushed image\n";
    expect(cleanLines(raw)).toEqual(["INFO[0000] Resolved", "INFO[0002] Pushed image"]);
  });

  it("the last error line wins", () => {
    expect(kanikoErrorLine("error: first\nINFO x\nerror: second\n")).toBe("second");
  });

  it("the executor's own Error: line wins over its usage text, whose flags mention errors", () => {
    const out = "Error: error resolving source context: authentication required\nUsage:\n  executor [flags]\nFlags:\n  -v, --verbosity string   Log level (trace, debug, info, warn, error, fatal, panic) (default \"info\")\n";
    expect(kanikoErrorLine(out)).toBe("resolving source context: authentication required");
  });

  it("an error-level log line is found among info lines", () => {
    expect(kanikoErrorLine("INFO[0000] Retrieving\nERRO[0002] pushing image: UNAUTHORIZED: authentication required\nINFO[0002] done\n")).toBe("pushing image: UNAUTHORIZED: authentication required");
  });
});

import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { certainFailure } from "../../src/adapters/deploy/rollout-watch.ts";

const IMAGE = "registry.local/acme/shop:abc";
const pod = (state: object, extra: { image?: string; lastState?: object; restartCount?: number } = {}): V1Pod => ({
  metadata: { name: "shop-1" },
  spec: { containers: [{ name: "app", image: extra.image ?? IMAGE }] },
  status: { containerStatuses: [{ name: "app", image: extra.image ?? IMAGE, imageID: "", ready: false, restartCount: extra.restartCount ?? 0, state, lastState: extra.lastState }] },
});

describe("when the new pods can certainly never become ready", () => {
  it("a crash loop, with the exit code of the last crash", () => {
    expect(certainFailure(pod({ waiting: { reason: "CrashLoopBackOff" } }, { lastState: { terminated: { exitCode: 3, reason: "Error" } }, restartCount: 2 }), IMAGE))
      .toBe("container app of pod shop-1 keeps crashing (CrashLoopBackOff, exit code 3, 2 restarts)");
  });

  it("an image that cannot be pulled", () => {
    expect(certainFailure(pod({ waiting: { reason: "ImagePullBackOff", message: "Back-off pulling image" } }), IMAGE))
      .toBe("container app of pod shop-1 cannot start: ImagePullBackOff: Back-off pulling image");
  });

  it.each([
    ["still creating", pod({ waiting: { reason: "ContainerCreating" } })],
    ["running but not ready yet (a probe decides; helm's timeout bounds it)", pod({ running: {} })],
    ["first crash, restarting", pod({ running: {} }, { lastState: { terminated: { exitCode: 1 } }, restartCount: 1 })],
    ["another release's pod", pod({ waiting: { reason: "CrashLoopBackOff" } }, { image: "registry.local/acme/other:1" })],
  ])("not yet: %s", (_why, p) => {
    expect(certainFailure(p, IMAGE)).toBeUndefined();
  });
});

import { startupSnapshot } from "node:v8";
import { main } from "./main.ts";
import { warmUp } from "./warm-up.ts";

/**
 * The entry of the image's V8 startup snapshot (Dockerfile): `node --snapshot-blob <blob>
 * --build-snapshot dist/ci-runner-snapshot.cjs` runs this, the warm-up included, and saves the heap;
 * each tick then starts from that heap (`node --snapshot-blob <blob> -- <args>`) and calls main(),
 * which registers the signal handlers in the running process. Run as a plain script, it is main().
 */
if (startupSnapshot.isBuildingSnapshot()) {
  startupSnapshot.setDeserializeMainFunction(() => void main(1));
  void warmUp();
} else {
  void main();
}

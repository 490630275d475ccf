import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { pushImage } from "../env/registry.ts";
import { annotations, expectExit, jobsCreated, pagesServed, registryDigest } from "../support/real-checks.ts";
import { e2eWorld, type HelmMajor, type World } from "../support/world.ts";

const real = inject("real");

interface ConfigMapList { items: { metadata: { name: string }; data?: Record<string, string> }[] }

/**
 * What a commit can do is what its app could: whoever pushes to the branch writes the chart and the
 * Dockerfile. One app per Helm major lives through hostile commits, each built and deployed for
 * real: a chart that looks up the registry Secret of cicd, one that puts a Job into cicd, one that
 * makes helm run out of memory, one whose objects a quota refuses, and an IMAGE:<sha> pushed by
 * someone else before the runner built it.
 */
describe.skipIf("skip" in real).each(["helm3", "helm4"] as const)("hostile commits on the real node with %s", (helm: HelmMajor) => {
  let world: World;
  beforeAll(async () => {
    if (!("info" in real)) return;
    world = await e2eWorld(real.info);
  });
  afterAll(async () => world?.close());

  const kubectl = (...args: string[]) => execFileSync(world.info.kubectl, ["--kubeconfig", world.info.kubeconfig, ...args], { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });

  it("a chart reaches nothing of cicd, a quota's refusal is the commit's failure, and an image we did not record is never deployed", async () => {
    const app = world.app(`hostile-${helm}`);
    const env = app.env(helm, { MAX_RETRIES: "1" });
    const first = app.commit();
    expectExit(await world.run(["sync", "--once"], env), 0);
    expect(await pagesServed(world, app.namespace, app.release)).toEqual([first]);

    // 1. `lookup` of the registry Secret in cicd, rendered into a ConfigMap anyone reading the app's
    // namespace may read. helm acts as the app's identity, which may not read cicd: the render
    // fails (an attempt of this commit, set aside after MAX_RETRIES=1), and nothing of cicd arrives.
    const registrySecret = (await world.get<{ data: Record<string, string> }>("/api/v1/namespaces/cicd/secrets/regcred"))?.data[".dockerconfigjson"] ?? "";
    expect(registrySecret.length).toBeGreaterThan(20);
    const stealing = app.commit({
      "chart/templates/stolen.yaml": `{{- $s := lookup "v1" "Secret" "cicd" "regcred" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-stolen
data:
  stolen: {{ $s | toJson | quote }}
`,
    });
    const lookup = await world.run(["sync", "--once"], env);
    expectExit(lookup, 4);
    const configMaps = await world.get<ConfigMapList>(`/api/v1/namespaces/${app.namespace}/configmaps`);
    const everything = JSON.stringify(configMaps?.items.map((c) => c.data ?? {}) ?? []);
    expect(everything).not.toContain(registrySecret);
    expect(everything).not.toContain("auths");
    expect(configMaps?.items.map((c) => c.metadata.name)).not.toContain(`${app.release}-stolen`);
    const state = await annotations(world, app.name);
    expect(state["ci-runner.dev/set-aside-sha"]).toBe(stealing);
    expect(state["ci-runner.dev/last-error"]).toMatch(/forbidden: User "system:serviceaccount:hostile-helm\d:ci-runner-deploy" cannot get resource "secrets"/);
    expect(await pagesServed(world, app.namespace, app.release)).toEqual([first]);

    // 2. A chart's object in another namespace (a Job in cicd, which would run with cicd's Secrets):
    // the deploy identity may create nothing outside its own namespace.
    const elsewhere = app.commit({
      "chart/templates/stolen.yaml": "",
      "chart/templates/job.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-in-cicd
  namespace: cicd
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: x, image: busybox}]
`,
    });
    expectExit(await world.run(["sync", "--once"], env), 4);
    expect((await annotations(world, app.name))["ci-runner.dev/set-aside-sha"]).toBe(elsewhere);
    expect(await world.get(`/apis/batch/v1/namespaces/cicd/jobs/${app.release}-in-cicd`)).toBeUndefined();

    // 3. A template that makes helm need more memory than HELM_MEMORY_LIMIT: helm fails, not the
    // runner's pod, and the attempt is counted like any other.
    const bomb = app.commit({
      "chart/templates/job.yaml": "",
      "chart/templates/bomb.yaml": 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-bomb\ndata:\n  a: {{ repeat 60000000 "x" | quote }}\n',
    });
    expectExit(await world.run(["sync", "--once"], env), 4);
    const afterBomb = await annotations(world, app.name);
    expect(afterBomb["ci-runner.dev/set-aside-sha"]).toBe(bomb);
    expect(afterBomb["ci-runner.dev/last-error"]).toMatch(/crashed \(exit 2\): fatal error: [^;]*out of memory[^;]*; it ran out of its memory of 160Mi \(HELM_MEMORY_LIMIT\)/);
    expect(await pagesServed(world, app.namespace, app.release)).toEqual([first]);

    // 4. A quota refuses the chart's own object: that is this commit's failure, counted and set
    // aside, not a configuration error that fails every tick (the old reading of "forbidden").
    kubectl("-n", app.namespace, "create", "quota", "no-more-configmaps", "--hard=count/configmaps=2");
    const overQuota = app.commit({
      "chart/templates/bomb.yaml": "",
      "chart/templates/many.yaml": [1, 2, 3].map((n) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-extra-${n}\n`).join("---\n"),
    });
    const quota = await world.run(["sync", "--once"], env);
    expectExit(quota, 4);
    expect((await annotations(world, app.name))["ci-runner.dev/set-aside-sha"]).toBe(overQuota);
    expect((await annotations(world, app.name))["ci-runner.dev/last-error"]).toMatch(/exceeded quota: no-more-configmaps/);
    kubectl("-n", app.namespace, "delete", "quota", "no-more-configmaps");

    // 5. Someone with the push credentials pushed IMAGE:<sha> for the next commit before any build
    // of ours: it is never deployed; the runner builds and deploys its own, and records its digest.
    const next = app.commit({ "chart/templates/many.yaml": "" });
    const planted = await pushImage(world.info.registry, app.image.slice(world.info.registry.host.length + 1), next);
    const built = await world.run(["sync", "--once"], env);
    expectExit(built, 0);
    expect(jobsCreated(world, app.name, next)).toHaveLength(1);
    const digest = await registryDigest(world, app.image, next);
    expect(digest).not.toBe(planted);
    expect((await annotations(world, app.name))["ci-runner.dev/deployed-digest"]).toBe(digest);
    expect(await pagesServed(world, app.namespace, app.release)).toEqual([next]);
  });
});

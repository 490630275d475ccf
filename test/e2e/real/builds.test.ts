import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api } from "../env/control-plane.ts";
import { annotations, buildOutput, expectExit, jobsCreated, pagesServed, registryDigest } from "../support/real-checks.ts";
import { realDockerfile } from "../support/app.ts";
import { e2eWorld, type HelmMajor, TOKEN, type World } from "../support/world.ts";

const real = inject("real");

/**
 * Real Kaniko builds: what a user's commit or installation can get wrong, each named on the tick
 * it happens, and what a second build reuses, each deployed with both Helm majors.
 */
describe.skipIf("skip" in real).each(["helm3", "helm4"] as const)("real builds, deployed with %s", (helm: HelmMajor) => {
  let world: World;
  let base = "";
  beforeAll(async () => {
    if (!("info" in real)) return;
    world = await e2eWorld(real.info);
    base = real.info.real?.baseImage ?? "";
  });
  afterAll(async () => world?.close());

  const serve = (steps: string) => realDockerfile(base, steps);

  async function secret(name: string, type: string, data: Record<string, string>): Promise<void> {
    const body = { apiVersion: "v1", kind: "Secret", type, metadata: { name, namespace: "cicd" }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) };
    const response = await api(world.info.server, world.info.adminToken, world.info.caCert, "/api/v1/namespaces/cicd/secrets", { method: "POST", body: JSON.stringify(body) });
    expect(response.ok || response.status === 409, response.text).toBe(true);
  }

  async function statusOf(env: Record<string, string>) {
    const status = await world.run(["status", "-o", "json"], env);
    expectExit(status, 0);
    return JSON.parse(status.stdout) as { lastError?: { message: string }; setAside?: { reason: string } };
  }

  it("3. a Dockerfile error: Kaniko's own error line reaches our log, status and the state; set aside after MAX_RETRIES", async () => {
    const app = world.app(`dockerfile-error-${helm}`);
    const sha = app.commit({ Dockerfile: `FROM ${base}\nRUN echo about to fail && exit 3\n` });
    const env = app.env(helm, { MAX_RETRIES: "2" });
    const first = await world.run(["sync", "--once"], env);
    expectExit(first, 3);
    expect(buildOutput(first).some((l) => /exit status 3/.test(l)), buildOutput(first).join("\n")).toBe(true);
    expect(first.logs.find((l) => l.msg === "Attempt failed; the next tick retries")?.error).toMatch(/exit status 3/);
    expect((await annotations(world, app.name))["ci-runner.dev/last-error"]).toMatch(/exit status 3 \(exit code 3\); see kubectl -n cicd logs job\//);
    expectExit(await world.run(["sync", "--once"], env), 4);
    const status = await statusOf(env);
    expect(status.lastError?.message).toMatch(/exit status 3/);
    expect(status.setAside?.reason).toMatch(/^failed 2 of 2 attempts; last: .*exit status 3/);
    expect((await annotations(world, app.name))["ci-runner.dev/set-aside-sha"]).toBe(sha);
  });

  it("7. the second build of an unchanged Dockerfile uses Kaniko's cache", async () => {
    const app = world.app(`cached-${helm}`);
    app.commit({ Dockerfile: serve("RUN mkdir -p /www/static && echo layer > /www/static/layer.txt\n") });
    // A fixed REVISION: every step's cache key is the same for the second commit.
    const env = app.env(helm, { BUILD_ARGS: "REVISION=fixed" });
    const first = await world.run(["sync", "--once"], env);
    expectExit(first, 0);
    expect(buildOutput(first).some((l) => l.includes("Using caching version of cmd"))).toBe(false);
    app.commit();
    const second = await world.run(["sync", "--once"], env);
    expectExit(second, 0);
    expect(buildOutput(second).filter((l) => l.includes("Using caching version of cmd")), buildOutput(second).join("\n")).not.toEqual([]);
    expect(await pagesServed(world, app.namespace, app.release)).toEqual(["fixed"]);
  });

  it("5. a private repository builds with the token from its Secret; a wrong token fails naming the clone; a public one needs no Secret", async () => {
    const priv = world.app(`private-real-${helm}`, { private: true });
    const sha = priv.commit();
    await world.ensureTokenSecret(TOKEN);
    expectExit(await world.run(["sync", "--once"], priv.env(helm, { GIT_TOKEN: TOKEN, GIT_TOKEN_SECRET: "git-token" })), 0);
    expect(await pagesServed(world, priv.namespace, priv.release)).toEqual([sha]);

    await secret("wrong-token", "Opaque", { token: "tkn_not_the_right_one_0123456789" });
    priv.commit();
    const wrong = await world.run(["sync", "--once"], priv.env(helm, { GIT_TOKEN: TOKEN, GIT_TOKEN_SECRET: "wrong-token" }));
    expectExit(wrong, 3);
    expect((await annotations(world, priv.name))["ci-runner.dev/last-error"]).toMatch(/^resolving source context: authentication required \(exit code 1\)/);

    const pub = world.app(`public-real-${helm}`);
    const pubSha = pub.commit();
    // The shipped CronJob sets GIT_TOKEN_SECRET for every repository; without a token it is unused.
    expectExit(await world.run(["sync", "--once"], pub.env(helm, { GIT_TOKEN_SECRET: "no-such-secret" })), 0);
    expect(await pagesServed(world, pub.namespace, pub.release)).toEqual([pubSha]);
  });

  it("6. a wrong registry password is a configuration error at once, naming the Secret: no build, no timeout", async () => {
    const app = world.app(`bad-push-${helm}`);
    app.commit();
    const { registry } = world.info;
    const auth = Buffer.from(`${registry.user}:not-the-password`).toString("base64");
    await secret("badcred", "kubernetes.io/dockerconfigjson", { ".dockerconfigjson": JSON.stringify({ auths: { [registry.host]: { auth } } }) });
    const started = Date.now();
    const run = await world.run(["sync", "--once"], app.env(helm, { REGISTRY_SECRET: "badcred" }));
    expectExit(run, 2);
    expect(run.logs.map((l) => l.msg)).toContain(`registry ${registry.host} refused the credentials in REGISTRY_SECRET cicd/badcred (HTTP 401)`);
    expect((Date.now() - started) / 1000).toBeLessThan(30);
    expect(jobsCreated(world, app.name)).toEqual([]);
    expect(await registryDigest(world, app.image, "main-latest")).toBeNull();
  });

});

/** Failures of the build pod itself: helm plays no part, so one major is enough. */
describe.skipIf("skip" in real)("real build pods that fail", () => {
  let world: World;
  let base = "";
  beforeAll(async () => {
    if (!("info" in real)) return;
    world = await e2eWorld(real.info);
    base = real.info.real?.baseImage ?? "";
  });
  afterAll(async () => world?.close());

  const serve = (steps: string) => realDockerfile(base, steps);

  it("a missing token Secret is a configuration error on the tick it happens (exit 2), naming the Secret", async () => {
    const app = world.app("missing-secret", { private: true });
    app.commit();
    const started = Date.now();
    const run = await world.run(["sync", "--once"], app.env("helm4", { GIT_TOKEN: TOKEN, GIT_TOKEN_SECRET: "no-such-secret" }));
    expectExit(run, 2);
    expect(run.logs.map((l) => l.msg)).toContainEqual(expect.stringMatching(/cannot start: CreateContainerConfigError: secret "no-such-secret" not found$/));
    expect((Date.now() - started) / 1000).toBeLessThan(60); // not BUILD_TIMEOUT (20 min)
  });

  it("a Kaniko image that cannot be pulled is a configuration error (exit 2) naming ImagePullBackOff", async () => {
    const app = world.app("no-kaniko");
    app.commit();
    const run = await world.run(["sync", "--once"], app.env("helm4", { KANIKO_IMAGE: `${world.info.registry.host}/acme/no-such-kaniko:1` }));
    expectExit(run, 2);
    expect(run.stderr).toMatch(/cannot start: ImagePullBackOff/);
    expect(run.stderr).toContain("KANIKO_IMAGE");
  });

  it("out of memory names the limit and the setting that raises it", async () => {
    const app = world.app("oom");
    app.commit({ Dockerfile: serve("RUN dd if=/dev/zero of=/dev/null bs=400M count=1\n") });
    const run = await world.run(["sync", "--once"], app.env("helm4", { BUILD_MEMORY_LIMIT: "256Mi", BUILD_MEMORY_REQUEST: "64Mi", MAX_RETRIES: "1" }));
    expectExit(run, 4);
    expect((await annotations(world, app.name))["ci-runner.dev/last-error"]).toMatch(/^the build ran out of memory at its 256Mi limit \(OOMKilled\); raise BUILD_MEMORY_LIMIT/);
  });

  it("a build past its deadline names BUILD_TIMEOUT", async () => {
    const app = world.app("deadline");
    app.commit({ Dockerfile: serve("RUN sleep 120\n") });
    const run = await world.run(["sync", "--once"], app.env("helm4", { BUILD_TIMEOUT: "30s", MAX_RETRIES: "1" }));
    expectExit(run, 4);
    expect((await annotations(world, app.name))["ci-runner.dev/last-error"]).toMatch(/^the build did not finish within BUILD_TIMEOUT \(30s\)/);
  });
});

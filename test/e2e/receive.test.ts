import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { REPO_ROOT } from "./env/environment.ts";
import { type App, e2eWorld, type World } from "./support/world.ts";

const e2e = inject("e2e");
const skip = "skip" in e2e ? e2e.skip : undefined;

const SECRET = "e2e-webhook-secret-0123456789abcdef";
const RUNNER_IMAGE = "e2e.local/ci-runner:test";
interface Job { metadata: { name: string; labels?: Record<string, string>; ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[] }; spec: { template: { spec: unknown } } }

// A skipped run says why: the host tools are missing on this machine (never with CI=true).
describe.skipIf(skip !== undefined)("ci-runner receive on the real control plane", () => {
  let world: World;
  let app: App;
  let receiver: ChildProcess | undefined;
  let port = 0;
  const settings = { RELEASE: "recv", DEPLOY_NS: "recv-app" };
  const kubectl = (args: string[], options: { kubeconfig?: string; input?: string } = {}) =>
    execFileSync(world.info.kubectl, ["--kubeconfig", options.kubeconfig ?? world.info.kubeconfig, ...args], { encoding: "utf8", input: options.input, stdio: ["pipe", "pipe", "pipe"] });

  beforeAll(async () => {
    if (!("info" in e2e)) return;
    world = await e2eWorld(e2e.info);
    app = world.app("recv");
    app.commit();
    kubectl(["-n", "cicd", "create", "secret", "generic", "recv-hook", `--from-literal=secret=${SECRET}`]);
    const installed = await world.run(["install", "--runner-image", RUNNER_IMAGE, "--receiver-secret", "recv-hook", "--schedule", "0 0 1 1 *"], app.env("helm4", settings));
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toContain("Receiver: Deployment and Service cicd/ci-receiver-recv take GitHub push webhooks");
    // The receiver as its Deployment would run it: its own ServiceAccount's token, nothing more.
    const kubeconfig = await world.serviceAccountKubeconfig("cicd", "ci-receiver-recv");
    receiver = spawn(process.execPath, [join(REPO_ROOT, "bin", "ci-runner.js"), "receive", "--port", "0", "--listen", "127.0.0.1"], {
      env: { PATH: process.env.PATH ?? "", KUBECONFIG: kubeconfig, LOG_FORMAT: "json", REPO: app.repo, RELEASE: "recv", CICD_NS: "cicd", GITHUB_WEBHOOK_SECRET: SECRET },
      stdio: ["ignore", "ignore", "pipe"],
    });
    port = await new Promise<number>((resolve, reject) => {
      let text = "";
      receiver?.stderr?.on("data", (c: Buffer) => {
        text += c.toString("utf8");
        const line = text.split("\n").find((l) => l.includes("Receiving GitHub push webhooks"));
        if (line) resolve((JSON.parse(line) as { port: number }).port);
      });
      receiver?.on("exit", (code) => reject(new Error(`receive exited ${code}: ${text}`)));
    });
  });
  afterAll(async () => {
    if (receiver?.pid !== undefined && receiver.exitCode === null) process.kill(receiver.pid, "SIGTERM");
    if (world) await world.run(["uninstall"], app.env("helm4", settings));
    await world?.close();
  });

  const deliver = async (after: string, id: string, signature?: string) => {
    const body = JSON.stringify({ ref: "refs/heads/main", after, repository: { full_name: app.repo } });
    const response = await fetch(`http://127.0.0.1:${port}/webhook`, {
      method: "POST", body,
      headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": id, "x-hub-signature-256": signature ?? `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` },
    });
    return { status: response.status, text: (await response.text()).trim() };
  };
  const pushJobs = async () => (await world.get<{ items: Job[] }>("/apis/batch/v1/namespaces/cicd/jobs?labelSelector=ci-runner.dev%2Ftrigger%3Dpush"))?.items ?? [];

  it("a signed push starts one Job of the CronJob, as `kubectl create job --from` would; a redelivery and the same head start none", async () => {
    const sha = app.commit({ "app.txt": "version 2\n" });
    expect(await deliver(sha, "11111111-aaaa-4bbb-8ccc-000000000001", "sha256=" + "0".repeat(64))).toEqual({ status: 401, text: "" });
    expect(await pushJobs()).toEqual([]);
    expect(await deliver(sha, "11111111-aaaa-4bbb-8ccc-000000000001")).toEqual({ status: 202, text: "started" });
    expect(await deliver(sha, "11111111-aaaa-4bbb-8ccc-000000000001")).toEqual({ status: 202, text: "duplicate" });
    expect(["exists", "queued"]).toContain((await deliver(sha, "11111111-aaaa-4bbb-8ccc-000000000002")).text);
    const jobs = await pushJobs();
    expect(jobs.map((j) => j.metadata.name)).toEqual([`ci-runner-recv-push-${sha.slice(0, 12)}`]);
    const cron = await world.get<{ metadata: { uid: string }; spec: { jobTemplate: { spec: { template: { spec: unknown } } } } }>("/apis/batch/v1/namespaces/cicd/cronjobs/ci-runner-recv");
    const [job] = jobs;
    expect(job?.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "CronJob", name: "ci-runner-recv", uid: cron?.metadata.uid, controller: true })]);
    expect(job?.spec.template.spec).toEqual(cron?.spec.jobTemplate.spec.template.spec);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('ci_runner_receive_deliveries_total{outcome="started"} 1');
    expect(metrics).toContain('ci_runner_receive_deliveries_total{outcome="bad-signature"} 1');
  });

  it("the receiver's identity may start ticks of its own CronJob with its pod, and nothing else", async () => {
    // As the receiver's ServiceAccount, by impersonation: RBAC and admission see that user.
    const as = "--as=system:serviceaccount:cicd:ci-receiver-recv";
    const cron = JSON.parse(kubectl(["-n", "cicd", "get", "cronjob", "ci-runner-recv", "-o", "json"])) as { metadata: { uid: string }; spec: { jobTemplate: { spec: { template: { spec: { containers: { image: string; args: string[] }[] } } } } } };
    const job = (name: string, change: (spec: typeof cron.spec.jobTemplate.spec) => void, owner: object | null = { apiVersion: "batch/v1", kind: "CronJob", name: "ci-runner-recv", uid: cron.metadata.uid, controller: true }) => {
      const spec = structuredClone(cron.spec.jobTemplate.spec);
      change(spec);
      return JSON.stringify({ apiVersion: "batch/v1", kind: "Job", metadata: { name, namespace: "cicd", ...(owner ? { ownerReferences: [owner] } : {}) }, spec });
    };
    const create = (body: string) => {
      try {
        kubectl([as, "create", "-f", "-"], { input: body });
        return "created";
      } catch (error) {
        return String((error as { stderr?: string }).stderr);
      }
    };
    expect(create(job("forged-image", (s) => { s.template.spec.containers[0]!.image = "evil.example/miner:1"; }))).toContain("a receiver starts ticks only with the pod of CronJob ci-runner-recv, unchanged");
    expect(create(job("forged-args", (s) => { s.template.spec.containers[0]!.args = ["sh", "-c", "env"]; }))).toContain("unchanged");
    expect(create(job("no-owner", () => undefined, null))).toContain("a receiver starts ticks of its own CronJob only");
    expect(create(job("other-owner", () => undefined, { apiVersion: "batch/v1", kind: "CronJob", name: "ci-runner-inst", uid: cron.metadata.uid, controller: true }))).toContain("its own CronJob only");
    // RBAC: no Secrets, no pods, no other CronJob.
    for (const verb of [["get", "secrets"], ["create", "pods"], ["get", "cronjobs/ci-runner-other"], ["delete", "jobs"], ["patch", "cronjobs/ci-runner-recv"]]) {
      // can-i exits 1 when the answer is no.
      const answer = (() => { try { return kubectl([as, "auth", "can-i", "-n", "cicd", ...verb]); } catch (error) { return String((error as { stdout?: string }).stdout); } })();
      expect(answer.trim(), verb.join(" ")).toBe("no");
    }
    // The CronJob's own pod is admitted (what the receiver does).
    expect(create(job("honest-tick", () => undefined))).toBe("created");
    kubectl(["-n", "cicd", "delete", "job", "honest-tick", "--wait=false"]);
  });
});

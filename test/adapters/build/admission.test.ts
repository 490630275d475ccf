import { describe, expect, it } from "vitest";
import { checkBuildAdmitted } from "../../../src/adapters/build/admission.ts";
import { loadConfig } from "../../../src/config/load.ts";
import { ConfigError } from "../../../src/errors.ts";
import { apis } from "../../support/kube.ts";
import { strictServerPerTest } from "../../support/strict-http.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const config = loadConfig({ REPO: "acme/shop", IMAGE: "r.local/acme/shop", CHART_PATH: "chart", RELEASE: "shop", REGISTRY_SECRET: "regcred" }, {});
const JOBS = "/apis/batch/v1/namespaces/cicd/jobs?dryRun=All";

describe("doctor's build Job admission check", () => {
  const server = strictServerPerTest();

  it("dry-runs exactly the Job a tick creates, under a generated name", async () => {
    server.expect({
      method: "POST", path: JOBS,
      check: (r) => {
        const body = JSON.parse(r.body);
        expect(body.metadata).toMatchObject({ generateName: "build-doctor-", labels: { "ci-runner.dev/sha": SHA } });
        expect(body.metadata.name).toBeUndefined();
        expect(body.spec.template.spec.containers[0].image).toBe(config.kanikoImage);
      },
      reply: { status: 201, body: { kind: "Job" } },
    });
    expect(await checkBuildAdmitted(apis(server.url).batch, config, SHA)).toBe(`the build Job for 0123456789ab (image ${config.kanikoImage}) passes admission`);
  });

  it("a refusal by the build policy is a config error with the policy's own message", async () => {
    const message = "jobs.batch is forbidden: ValidatingAdmissionPolicy 'ci-runner-build-jobs' with binding 'ci-runner-build-jobs' denied request: container kaniko runs x";
    server.expect({ method: "POST", path: JOBS, reply: { status: 403, body: { kind: "Status", code: 403, message, details: { causes: [{ message: "container kaniko runs x" }] } } } });
    const error = await checkBuildAdmitted(apis(server.url).batch, config, SHA).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("refused by admission: jobs.batch is forbidden: ValidatingAdmissionPolicy 'ci-runner-build-jobs'");
  });
});

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { ServerResponse } from "node:http";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";

/**
 * GitHub's published OpenAPI description (npm @octokit/openapi), used to check that every answer
 * of our local GitHub endpoint has the shape GitHub documents: a fake that drifts from the real API
 * would let the adapter pass against something GitHub never sends.
 */
interface Operation { responses: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }> }
interface Description {
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> };
}

const require = createRequire(import.meta.url);
let loaded: { doc: Description; ajv: Ajv; routes: { method: string; template: string; pattern: RegExp }[] } | undefined;
const compiled = new Map<string, ValidateFunction>();

function load() {
  if (loaded) return loaded;
  const doc = withNullables(JSON.parse(readFileSync(require.resolve("@octokit/openapi/generated/api.github.com.json"), "utf8"))) as Description;
  // OpenAPI 3.0 keywords (nullable, example, x-*) are not JSON Schema: not strict, but formats checked.
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  // The description gives these URL fields the default "" (what GitHub sends when none was set),
  // which ajv-formats' "uri" refuses: the description's own default is taken as valid.
  ajv.addFormat("uri", (text: string) => text === "" || (/^[a-z][a-z0-9+.-]*:/i.test(text) && URL.canParse(text)));
  ajv.addSchema(doc as object, "github");
  const routes = Object.entries(doc.paths).flatMap(([template, methods]) => Object.keys(methods).map((method) => ({
    method: method.toUpperCase(), template,
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`),
  })));
  loaded = { doc, ajv, routes };
  return loaded;
}

/** The documented operation a request hits, e.g. "GET /repos/{owner}/{repo}/deployments". */
export function operationFor(method: string, path: string): { method: string; template: string } | undefined {
  const { routes } = load();
  const matches = routes.filter((r) => r.method === method && r.pattern.test(path));
  // The most literal template wins: /repos/{o}/{r}/installation over /repos/{o}/{r}/{anything}.
  return matches.sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0))[0];
}

/**
 * Problems of one answer against the description: an undocumented operation, an undocumented
 * success status, or a body that does not fit the documented schema. An error status the
 * description leaves out (GitHub's 403 for a missing permission, for one) must still be GitHub's
 * basic-error shape.
 */
export function checkResponse(method: string, path: string, status: number, contentType: string, body: string): string[] {
  const { doc, ajv } = load();
  const operation = operationFor(method, path);
  if (!operation) return [`${method} ${path} is no operation of GitHub's REST API`];
  const where = `${method} ${operation.template} ${status}`;
  let response = doc.paths[operation.template]?.[operation.method.toLowerCase()]?.responses[String(status)];
  let pointer = `github#/paths/${escape(operation.template)}/${operation.method.toLowerCase()}/responses/${status}`;
  if (response?.$ref) {
    const name = response.$ref.split("/").at(-1) ?? "";
    response = doc.components.responses[name];
    pointer = `github#/components/responses/${escape(name)}`;
  }
  // Any conditional GET may be answered 304 (GitHub's REST guide, "Use conditional requests"),
  // which the description lists on some operations only: it is GitHub's, with no body.
  if (!response && status === 304 && method === "GET") return body === "" ? [] : [`${where}: GitHub sends no body here`];
  if (!response) {
    if (status < 400) return [`${where}: GitHub does not document this status`];
    return validate("github#/components/schemas/basic-error", body, where);
  }
  if (status === 304 || !response.content) return body === "" ? [] : [`${where}: GitHub sends no body here`];
  const mediaType = contentType.split(";")[0]?.trim() ?? "";
  const content = response.content[mediaType];
  if (!content) return [`${where}: GitHub does not document content type ${mediaType} (only ${Object.keys(response.content).join(", ")})`];
  if (!mediaType.endsWith("json")) return [];
  return validate(`${pointer}/content/${escape(mediaType)}/schema`, body, where, ajv);
}

function validate(ref: string, body: string, where: string, ajv = load().ajv): string[] {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return [`${where}: the body is not JSON`];
  }
  let check = compiled.get(ref);
  if (!check) {
    check = ajv.compile({ $ref: ref });
    compiled.set(ref, check);
  }
  if (check(data)) return [];
  return (check.errors ?? []).slice(0, 5).map((e) => `${where}: ${e.instancePath || "(body)"} ${e.message ?? ""}${e.params && "missingProperty" in e.params ? ` ${String(e.params.missingProperty)}` : ""}`);
}

/**
 * OpenAPI 3.0's `nullable` next to `allOf`/`$ref` (no `type`) is not JSON Schema: said as
 * "this, or null". With a `type`, Ajv reads `nullable` itself.
 */
function withNullables(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withNullables);
  if (node === null || typeof node !== "object") return node;
  const object = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, withNullables(v)])) as Record<string, unknown>;
  if (object.nullable === true && object.type === undefined) {
    const { nullable: _n, ...rest } = object;
    return { anyOf: [rest, { type: "null" }] };
  }
  return object;
}

/** JSON pointer escaping. */
function escape(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

/**
 * Wraps a response so that what is sent is checked first: the problems go to `report`, and the
 * answer still goes out (the test then fails on the report, naming the drift).
 */
export function checkedResponse(res: ServerResponse, method: string, path: string, report: (problem: string) => void): ServerResponse {
  const end = res.end.bind(res);
  const writeHead = res.writeHead.bind(res);
  let contentType = "";
  res.writeHead = ((status: number, ...rest: unknown[]) => {
    const headers = rest.find((r) => typeof r === "object" && r !== null) as Record<string, string> | undefined;
    for (const [key, value] of Object.entries(headers ?? {})) if (key.toLowerCase() === "content-type") contentType = String(value);
    return (writeHead as (...a: unknown[]) => ServerResponse)(status, ...rest);
  }) as ServerResponse["writeHead"];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    const body = typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString("utf8") : "";
    contentType ||= String(res.getHeader("content-type") ?? "");
    for (const problem of checkResponse(method, path, res.statusCode, contentType, body)) report(problem);
    return (end as (...a: unknown[]) => ServerResponse)(chunk, ...rest);
  }) as ServerResponse["end"];
  return res;
}

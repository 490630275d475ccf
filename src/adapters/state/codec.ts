import { z } from "zod";
import type { RunnerState } from "../../reconcile/types.ts";

/**
 * RunnerState <-> ConfigMap annotations. Each group of annotations is read on its own: a malformed
 * group is reported and treated as absent, never a crash, so one bad hand edit costs one field.
 */

export const PREFIX = "ci-runner.dev/";

const sha = z.string().regex(/^[0-9a-f]{40}$/, "a 40-character hex commit SHA");
const timestamp = z.iso.datetime({ offset: true });
const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, "an image digest sha256:<64 hex>");
const count = z.string().regex(/^\d+$/).transform(Number);
const text = z.string().min(1);

const GROUPS = {
  deployed: { keys: { sha: "deployed-sha", at: "deployed-at", digest: "deployed-digest", revision: "deployed-revision", imageSha: "deployed-image-sha" },
    schema: z.object({ sha, at: timestamp, digest: digest.optional(), revision: count.optional(), imageSha: sha.optional() }) },
  built: { keys: { sha: "built-sha", digest: "built-digest" }, schema: z.object({ sha, digest }) },
  attempts: { keys: { sha: "attempt-sha", failures: "attempt-failures", since: "attempt-retry-base" }, schema: z.object({ sha, failures: count, since: count.optional() }) },
  setAside: { keys: { sha: "set-aside-sha", reason: "set-aside-reason" }, schema: z.object({ sha, reason: text }) },
  seen: { keys: { sha: "seen-sha", reason: "seen-reason" }, schema: z.object({ sha, reason: text }) },
  deploying: { keys: { sha: "deploying-sha", attempt: "deploying-attempt" }, schema: z.object({ sha, attempt: count }) },
  // A person may approve with kubectl, setting approved-sha alone; `ci-runner approve` adds who and when.
  approved: { keys: { sha: "approved-sha", by: "approved-by", at: "approved-at" }, schema: z.object({ sha, by: text.optional(), at: timestamp.optional() }) },
  verifying: { keys: { sha: "verifying-sha", revision: "verifying-revision" }, schema: z.object({ sha, revision: count.optional() }) },
  verified: { keys: { sha: "verified-sha", at: "verified-at", digest: "verified-digest", revision: "verified-revision", imageSha: "verified-image-sha" },
    schema: z.object({ sha, at: timestamp, digest: digest.optional(), revision: count.optional(), imageSha: sha.optional() }) },
  lastError: { keys: { sha: "last-error-sha", message: "last-error", at: "last-error-at" }, schema: z.object({ sha, message: text, at: timestamp }) },
  head: { keys: { sha: "head-sha", etag: "head-etag" }, schema: z.object({ sha, etag: text }) },
  lease: { keys: { holder: "lease-holder", expiresAt: "lease-expires" }, schema: z.object({ holder: text, expiresAt: timestamp }) },
} as const;

type GroupName = keyof typeof GROUPS;
const GROUP_NAMES = Object.keys(GROUPS) as GroupName[];

export function decodeState(annotations: Readonly<Record<string, string>> | undefined): { state: RunnerState; warnings: string[] } {
  const state: Record<string, unknown> = {};
  const warnings: string[] = [];
  for (const name of GROUP_NAMES) {
    const { keys, schema } = GROUPS[name];
    const raw: Record<string, string> = {};
    for (const [field, key] of Object.entries(keys)) {
      const value = annotations?.[PREFIX + key];
      if (value !== undefined) raw[field] = value;
    }
    if (Object.keys(raw).length === 0) continue;
    const parsed = schema.safeParse(raw);
    if (parsed.success) state[name] = parsed.data;
    else warnings.push(`annotations ${Object.values(keys).map((k) => PREFIX + k).join(", ")} are malformed (${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}); treated as absent`);
  }
  return { state: state as RunnerState, warnings };
}

/**
 * Every annotation we own, set to its value or null: a merge patch deletes null keys, so each write
 * also clears a malformed annotation that was read as absent.
 */
export function encodeState(state: RunnerState): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const name of GROUP_NAMES) {
    const group = state[name] as Record<string, unknown> | undefined;
    for (const [field, key] of Object.entries(GROUPS[name].keys)) {
      const value = group?.[field];
      out[PREFIX + key] = value === undefined ? null : String(value);
    }
  }
  return out;
}

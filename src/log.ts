import { pino, type DestinationStream } from "pino";

export type Logger = pino.Logger;

const CENSOR = "[REDACTED]";

/** Keys whose values are always hidden, at any depth of a log record, in any letter case. */
const SECRET_KEYS = new Set(["token", "password", "authorization", "auth", "gittoken", "git_token", "secret", "credentials", ".dockerconfigjson"]);

/** The usernames a token travels with in Basic auth: git's for GitHub tokens (ours and Kaniko's). */
const TOKEN_USERS = ["x-access-token"];

/** Shorter encoded fragments would hide innocent text; a real secret's are far longer. */
const MIN_FRAGMENT = 8;

/**
 * Secret values known to this process (the GitHub token, registry credentials once read). Every log
 * line is scrubbed of them, including subprocess output we relay, whatever key they hide under.
 */
export class Secrets {
  readonly #values = new Set<string>();
  #ordered: string[] | undefined;

  /**
   * Adds a secret in every form it travels in: raw, URL- and JSON-escaped, base64, the Basic
   * credentials git sends with a token (base64 of `x-access-token:<token>`), and the part of the
   * base64 that is the same whatever precedes it (`<any user>:<secret>` in a Basic header).
   */
  add(value: string | undefined): void {
    if (value === undefined || value.length < 4) return;
    const forms = [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1), ...base64Forms(value)];
    for (const user of TOKEN_USERS) forms.push(Buffer.from(`${user}:${value}`).toString("base64"));
    for (const form of forms) this.#values.add(form);
    this.#ordered = undefined;
  }

  /** Adds the secret and the Basic-auth forms it travels in (user:secret, base64). */
  addBasic(user: string, secret: string): void {
    this.add(secret);
    this.add(Buffer.from(`${user}:${secret}`).toString("base64"));
  }

  scrub(text: string): string {
    // Longest first: a form that contains another is hidden whole, not left in pieces.
    this.#ordered ??= [...this.#values].sort((a, b) => b.length - a.length);
    let out = text;
    for (const value of this.#ordered) out = out.split(value).join(CENSOR);
    return out;
  }

}

export interface LogOptions {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly pretty: boolean;
  readonly secrets: Secrets;
  readonly write: (line: string) => void;
}

export function createLogger(options: LogOptions): Logger {
  const { secrets, write, pretty } = options;
  const destination: DestinationStream = {
    write(line: string) {
      write(pretty ? formatPretty(line) : line);
    },
  };
  return pino(
    {
      level: options.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // On the finished line, so that child bindings and serializers' output are covered too.
      hooks: { streamWrite: (line) => secrets.scrub(redactKeys(line)) },
      serializers: { err: serializeError },
    },
    destination,
  );
}

/**
 * base64 of the secret at each of the three alignments it can have inside a longer base64 text,
 * keeping only the characters that depend on the secret alone.
 */
function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value);
  const forms = [bytes.toString("base64")];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    const firstGroup = Math.ceil(offset / 3);
    const endGroup = Math.floor((offset + bytes.length) / 3);
    const fragment = encoded.slice(firstGroup * 4, endGroup * 4);
    if (fragment.length >= MIN_FRAGMENT) forms.push(fragment);
  }
  return forms;
}

/** A JSON log line with every secret-named key hidden, at any depth (pino's redact paths reach one). */
function redactKeys(line: string): string {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return line;
  }
  const walk = (value: unknown): unknown => {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map(walk);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEYS.has(k.toLowerCase()) ? CENSOR : walk(v)]));
  };
  return `${JSON.stringify(walk(record))}\n`;
}

/** Errors log as class, message and remedy; a stack only for internal errors (bugs). */
function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const kind = (error as { kind?: string }).kind;
  return {
    type: error.name,
    message: error.message,
    ...(kind === undefined || kind === "internal" ? { stack: error.stack } : {}),
  };
}

const LEVEL_WIDTH = 5;

/** A terminal line: time, level, message, then fields as key=value. */
export function formatPretty(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, ...fields } = record;
  const clock = typeof time === "string" ? time.slice(11, 19) : "";
  const rest = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${clock} ${String(level).toUpperCase().padEnd(LEVEL_WIDTH)} ${String(msg ?? "")}${rest ? `  ${rest}` : ""}\n`;
}

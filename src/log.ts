import { pino, type DestinationStream } from "pino";

export type Logger = pino.Logger;

const CENSOR = "[REDACTED]";

/** Keys whose values are always hidden, wherever they appear in a log record. */
const SECRET_KEYS = ["token", "password", "authorization", "auth", "gitToken", "GIT_TOKEN", "secret", "credentials", ".dockerconfigjson"];

/**
 * Secret values known to this process (the GitHub token, registry credentials once read). Every log
 * line is scrubbed of them, including subprocess output we relay, whatever key they hide under.
 */
export class Secrets {
  readonly #values = new Set<string>();

  add(value: string | undefined): void {
    if (value === undefined || value.length < 4) return;
    for (const form of [value, Buffer.from(value).toString("base64"), encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]) {
      this.#values.add(form);
    }
  }

  /** Adds the secret and the Basic-auth forms it travels in (user:secret, base64). */
  addBasic(user: string, secret: string): void {
    this.add(secret);
    this.add(Buffer.from(`${user}:${secret}`).toString("base64"));
  }

  scrub(text: string): string {
    let out = text;
    for (const value of this.#values) out = out.split(value).join(CENSOR);
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
      redact: { paths: SECRET_KEYS.flatMap((k) => [`["${k}"]`, `*["${k}"]`]), censor: CENSOR },
      hooks: { streamWrite: (line) => secrets.scrub(line) },
      serializers: { err: serializeError },
    },
    destination,
  );
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

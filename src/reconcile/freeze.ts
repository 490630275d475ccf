import type { FreezeWindow } from "./types.ts";

/**
 * Deploy freeze windows: a cron-style start (minute hour day-of-month month day-of-week, in a time
 * zone) and a duration, e.g. `0 17 * * FRI 63h Europe/Berlin` (Friday 17:00 to Monday 08:00).
 * Pure: `now` is passed in.
 */

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const FIELDS = [
  { name: "minute", min: 0, max: 59, names: [] as string[] },
  { name: "hour", min: 0, max: 23, names: [] as string[] },
  { name: "day of month", min: 1, max: 31, names: [] as string[] },
  { name: "month", min: 1, max: 12, names: MONTHS },
  { name: "day of week", min: 0, max: 7, names: DAYS },
] as const;

/** Parses FREEZE_WINDOWS: windows separated by `;`. Throws an Error naming the faulty window. */
export function parseFreezeWindows(text: string): FreezeWindow[] {
  return text.split(";").map((w) => w.trim()).filter(Boolean).map(parseWindow);
}

function parseWindow(text: string): FreezeWindow {
  const parts = text.split(/\s+/);
  if (parts.length < 6 || parts.length > 7) throw new Error(`"${text}": expected five cron fields, a duration and an optional time zone`);
  const sets = FIELDS.map((field, i) => parseField(parts[i] ?? "", field, text));
  const duration = /^(\d+)(m|h|d)$/.exec(parts[5] ?? "");
  if (!duration) throw new Error(`"${text}": duration "${parts[5]}" is not a number followed by m, h or d`);
  const durationMinutes = Number(duration[1]) * (duration[2] === "d" ? 1440 : duration[2] === "h" ? 60 : 1);
  if (durationMinutes < 1 || durationMinutes > 31 * 1440) throw new Error(`"${text}": duration must be from 1m to 31d`);
  const timeZone = parts[6] ?? "UTC";
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
  } catch {
    throw new Error(`"${text}": unknown time zone "${timeZone}" (an IANA name such as Europe/Berlin)`);
  }
  const [minutes, hours, daysOfMonth, months, rawDays] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  const daysOfWeek = new Set([...rawDays].map((d) => d % 7)); // 7 is Sunday too
  const dayOr = parts[2] !== "*" && parts[4] !== "*";
  return { text, minutes, hours, daysOfMonth, months, daysOfWeek, dayOr, durationMinutes, timeZone };
}

function parseField(spec: string, field: (typeof FIELDS)[number], text: string): Set<number> {
  const out = new Set<number>();
  const value = (v: string): number => {
    const named = field.names.indexOf(v.toUpperCase());
    const n = named >= 0 ? named + (field.name === "month" ? 1 : 0) : /^\d+$/.test(v) ? Number(v) : Number.NaN;
    if (!(n >= field.min && n <= field.max)) throw new Error(`"${text}": ${field.name} "${v}" is not from ${field.min} to ${field.max}`);
    return n;
  };
  for (const item of spec.split(",")) {
    const [range = "", stepText] = item.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`"${text}": ${field.name} step "${stepText}" is not a positive integer`);
    const [from, to] = range === "*" ? [field.min, field.max] : range.includes("-") ? range.split("-").map(value) as [number, number] : [value(range), stepText === undefined ? value(range) : field.max];
    if (from > to) throw new Error(`"${text}": ${field.name} range "${range}" runs backwards`);
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return out;
}

/** The freeze in force at `now`, if any, and when it ends (the latest end of the windows in force). */
export function activeFreeze(windows: readonly FreezeWindow[], now: Date): { window: FreezeWindow; until: Date } | undefined {
  let found: { window: FreezeWindow; until: Date } | undefined;
  for (const window of windows) {
    const until = windowEnd(window, now);
    if (until !== undefined && (found === undefined || until > found.until)) found = { window, until };
  }
  return found;
}

/**
 * The end of the latest start of `w` at or before `now`, if that window still lasts. Starts are
 * visited latest first, so the first one at or before `now` decides: every earlier start of the
 * same window ends earlier.
 */
function windowEnd(w: FreezeWindow, now: Date): Date | undefined {
  const t = now.getTime();
  const local = wallClock(t, w.timeZone);
  const days = Math.ceil(w.durationMinutes / 1440) + 1;
  const hours = [...w.hours].sort((a, b) => b - a);
  const minutes = [...w.minutes].sort((a, b) => b - a);
  for (let back = 0; back <= days; back++) {
    const day = new Date(Date.UTC(local.year, local.month - 1, local.day - back));
    const [y, m, d, dow] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), day.getUTCDay()];
    if (!w.months.has(m)) continue;
    const dom = w.daysOfMonth.has(d);
    const wd = w.daysOfWeek.has(dow);
    if (!(w.dayOr ? dom || wd : dom && wd)) continue;
    for (const h of hours) {
      for (const mi of minutes) {
        // No zone is more than 14 hours from UTC: a start that late is surely after now.
        if (Date.UTC(y, m - 1, d, h, mi) - 14 * 3_600_000 > t) continue;
        const start = zonedToUtc(y, m, d, h, mi, w.timeZone);
        if (start > t) continue;
        const end = start + w.durationMinutes * 60_000;
        return t < end ? new Date(end) : undefined;
      }
    }
  }
  return undefined;
}

const formats = new Map<string, Intl.DateTimeFormat>();

function wallClock(t: number, timeZone: string) {
  let format = formats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric" });
    formats.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(t).map((p) => [p.type, Number(p.value)]));
  return { year: parts.year ?? 0, month: parts.month ?? 0, day: parts.day ?? 0, hour: parts.hour ?? 0, minute: parts.minute ?? 0 };
}

/**
 * The instant a wall-clock time in `timeZone` names. A time that occurs twice (DST ends) is its
 * first occurrence; a time skipped (DST starts) is read with the offset before the change, so
 * 02:30 on a spring-forward night in Berlin is 03:30, as cron daemons do.
 */
function zonedToUtc(y: number, m: number, d: number, h: number, mi: number, timeZone: string): number {
  const guess = Date.UTC(y, m - 1, d, h, mi);
  const offset = (at: number) => {
    const w = wallClock(at, timeZone);
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) - Math.floor(at / 60_000) * 60_000;
  };
  const before = guess - offset(guess - 12 * 3_600_000);
  const after = guess - offset(guess + 12 * 3_600_000);
  const valid = [before, after].filter((c) => {
    const w = wallClock(c, timeZone);
    return w.day === d && w.hour === h && w.minute === mi;
  });
  return valid.length > 0 ? Math.min(...valid) : before;
}

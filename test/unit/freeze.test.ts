import { describe, expect, it } from "vitest";
import { activeFreeze, parseFreezeWindows } from "../../src/reconcile/freeze.ts";

function until(windows: string, now: string): string | undefined {
  return activeFreeze(parseFreezeWindows(windows), new Date(now))?.until.toISOString();
}

describe("freeze windows", () => {
  it.each([
    ["a weekday evening, UTC by default", "0 18 * * 1-5 14h", "2026-11-18T19:00:00Z", "2026-11-19T08:00:00.000Z"],
    ["before the start", "0 18 * * 1-5 14h", "2026-11-18T17:59:00Z", undefined],
    ["the end is outside the window", "0 18 * * 1-5 14h", "2026-11-19T08:00:00Z", undefined],
    ["a Friday window still in force on Sunday (named day, Berlin, CET)", "0 17 * * FRI 63h Europe/Berlin", "2026-11-22T12:00:00Z", "2026-11-23T07:00:00.000Z"],
    ["the same window in summer time (CEST)", "0 17 * * FRI 63h Europe/Berlin", "2026-07-04T12:00:00Z", "2026-07-06T06:00:00.000Z"],
    ["Christmas: day of month and month names", "0 0 24 DEC * 3d", "2026-12-26T10:00:00Z", "2026-12-27T00:00:00.000Z"],
    ["steps and lists", "*/30 9,13 * * * 10m", "2026-11-18T13:35:00Z", "2026-11-18T13:40:00.000Z"],
    ["both day fields restricted: either matches (cron's rule)", "0 0 1 * MON 1h", "2026-11-16T00:30:00Z", "2026-11-16T01:00:00.000Z"],
    ["a start skipped by DST (02:30 on 29 March in Berlin) begins at 03:30 CEST", "30 2 * * * 1h Europe/Berlin", "2026-03-29T01:45:00Z", "2026-03-29T02:30:00.000Z"],
    ["a start that occurs twice (25 October in Berlin) begins at the first", "30 2 * * * 1h Europe/Berlin", "2026-10-25T00:45:00Z", "2026-10-25T01:30:00.000Z"],
    ["overlapping windows: the latest end", "0 17 * * FRI 63h Europe/Berlin; 0 0 23 NOV * 2d", "2026-11-23T06:00:00Z", "2026-11-25T00:00:00.000Z"],
  ])("%s", (_name, windows, now, expected) => {
    expect(until(windows, now)).toBe(expected);
  });

  it.each([
    ["0 17 * * FRI", /five cron fields, a duration/],
    ["0 25 * * * 1h", /hour "25" is not from 0 to 23/],
    ["0 17 * * FRX 1h", /day of week "FRX"/],
    ["0 17 * * * 1w", /duration "1w"/],
    ["0 17 * * * 32d", /from 1m to 31d/],
    ["0 17 * * * 1h Mars/Olympus", /unknown time zone "Mars\/Olympus"/],
    ["0 17-9 * * * 1h", /runs backwards/],
  ])("refuses %s naming the problem", (text, problem) => {
    expect(() => parseFreezeWindows(text)).toThrow(problem);
  });

  it("an empty setting is no window", () => {
    expect(parseFreezeWindows(" ; ")).toEqual([]);
  });
});

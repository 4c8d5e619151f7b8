/** Parsing and printing of sizes, durations and counts, for flags and for what the commands print. */
import { UsageError } from './errors.js';

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1000, kib: 1024,
  m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
};

/**
 * A byte count from a flag: a whole number, optionally with a unit (`k`/`KiB` = 1024, `KB` = 1000, and so on up
 * to `G`).
 *
 * @throws {@link UsageError} naming `flag` when the value is not one.
 * @example
 * ```ts
 * parseBytes('--block-size', '64KiB'); // 65536
 * ```
 */
export function parseBytes(flag: string, value: string): number {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${flag}: expected a number of bytes such as 65536, 64KiB or 1MiB, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * A whole number from a flag, from `min` to `max`.
 *
 * @throws {@link UsageError} naming `flag` when the value is not one.
 * @example
 * ```ts
 * parseInteger('--concurrency', '8', 1, 1024); // 8
 * ```
 */
export function parseInteger(flag: string, value: string, min: number, max: number): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration from a flag, in ms: a number with an optional unit (`ms`, `s`, `m`, `h`, `d`; no unit: ms), or
 * `none` for "no expiry" (`false`).
 *
 * @throws {@link UsageError} naming `flag` when the value is not one.
 * @example
 * ```ts
 * parseDuration('--ttl', '2h'); // 7200000
 * parseDuration('--ttl', 'none'); // false
 * ```
 */
export function parseDuration(flag: string, value: string): number | false {
  if (/^\s*none\s*$/i.test(value)) return false;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m ? DURATION_UNITS[m[2]!.toLowerCase()] : undefined;
  const ms = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 1) throw new UsageError(`${flag}: expected a duration such as 3600000, 90s, 30m, 2h or 1d (or "none"), got ${JSON.stringify(value)}`);
  return ms;
}

/**
 * `n` bytes for people: `512 B`, `1.5 KiB`, `40.0 MiB`, `2.25 GiB`.
 *
 * @example
 * ```ts
 * formatBytes(1536); // '1.5 KiB'
 * ```
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = n;
  let u = 0;
  while (Math.abs(value) >= 1024 && u < units.length - 1) {
    value /= 1024;
    u++;
  }
  return u === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[u]}`;
}

/**
 * A duration for people: `850 ms`, `4.2 s`, `3m 05s`, `2h 07m`, `3d 04h`.
 *
 * @example
 * ```ts
 * formatDuration(185_000); // '3m 05s'
 * ```
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const pad = (n: number): string => String(Math.floor(n)).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${pad((s % 86_400) / 3600)}h`;
}

/**
 * Progress of a long command (`warm`): a bar with bytes, rate and ETA on a terminal (cli-progress), plain lines
 * elsewhere (logs, CI), or nothing. It goes to stderr, so stdout stays for results.
 */
import { SingleBar } from 'cli-progress';
import { UsageError } from './errors.js';
import type { OutputStream } from './io.js';
import { formatBytes, formatDuration } from './units.js';

/** How progress is shown: a bar, plain lines, or not at all. */
export type ProgressMode = 'bar' | 'plain' | 'none';

/**
 * The mode for `--progress` (or `RANGECACHE_PROGRESS`): `auto` (the default) is a bar when `stream` is a
 * terminal and plain lines when not.
 *
 * @throws {@link UsageError} for another value.
 * @example
 * ```ts
 * progressMode(undefined, process.stderr); // 'bar' on a terminal
 * ```
 */
export function progressMode(requested: string | undefined, stream: OutputStream): ProgressMode {
  const mode = (requested ?? 'auto').trim().toLowerCase();
  if (mode === 'auto') return stream.isTTY ? 'bar' : 'plain';
  if (mode === 'bar' || mode === 'plain' || mode === 'none') return mode;
  throw new UsageError(`--progress: expected auto, bar, plain or none, got ${JSON.stringify(requested)}`);
}

/** A progress display for `total` bytes. Make one with {@link startProgress}; always `stop()` it. */
export interface Progress {
  /** Counts `bytes` more as done. */
  add(bytes: number): void;
  /** Shows the final state and stops redrawing. */
  stop(): void;
}

export interface ProgressOptions {
  mode: ProgressMode;
  stream: OutputStream;
  /** What is in progress, e.g. `warm`. */
  label: string;
  total: number;
  /** How often plain lines (and a forced bar off a terminal) are printed, ms. Default 1000. */
  intervalMs?: number;
}

/** Bytes done, rate and ETA, as both displays show them. */
function figures(done: number, total: number, startedAt: number): { rate: string; eta: string; elapsed: number } {
  const elapsed = Date.now() - startedAt;
  const perSecond = elapsed > 0 ? (done * 1000) / elapsed : 0;
  const eta = done >= total ? '0 ms' : perSecond > 0 ? formatDuration(((total - done) / perSecond) * 1000) : '?';
  return { rate: `${formatBytes(perSecond)}/s`, eta, elapsed };
}

/**
 * Starts showing progress: a cli-progress bar (`label [█████░░░░] 42% | 12.0 MiB / 28.6 MiB | 8.10 MiB/s | ETA
 * 2.0 s`), or a plain line each `intervalMs` (`label: 12.0 MiB of 28.6 MiB (42.0%), 8.10 MiB/s, ETA 2.0 s`) and a
 * last one when stopped.
 *
 * @example
 * ```ts
 * const progress = startProgress({ mode: 'plain', stream: process.stderr, label: 'warm', total: size });
 * progress.add(65536);
 * progress.stop();
 * ```
 */
export function startProgress(options: ProgressOptions): Progress {
  const { mode, stream, label, total } = options;
  const intervalMs = options.intervalMs ?? 1000;
  const startedAt = Date.now();
  let done = 0;
  if (mode === 'none') return { add: (n) => void (done += n), stop: () => {} };
  if (mode === 'plain') {
    const line = (): string => {
      const f = figures(done, total, startedAt);
      const percent = total > 0 ? ((100 * done) / total).toFixed(1) : '100.0';
      return `${label}: ${formatBytes(done)} of ${formatBytes(total)} (${percent}%), ${f.rate}, ETA ${f.eta}`;
    };
    const timer = setInterval(() => stream.write(`${line()}\n`), intervalMs);
    timer.unref();
    return {
      add: (n) => void (done += n),
      stop: () => {
        clearInterval(timer);
        stream.write(`${line()}, elapsed ${formatDuration(Date.now() - startedAt)}\n`);
      },
    };
  }
  const bar = new SingleBar({
    stream,
    format: `${label} [{bar}] {percentage}% | {done} / {size} | {rate} | ETA {timeLeft}`,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
    hideCursor: true,
    noTTYOutput: true, // --progress bar off a terminal: one bar line per interval
    notTTYSchedule: intervalMs,
    emptyOnZero: true,
    gracefulExit: false, // the command handles Ctrl-C and stops the bar itself
  });
  const payload = (): Record<string, string> => {
    const f = figures(done, total, startedAt);
    return { done: formatBytes(done), size: formatBytes(total), rate: f.rate, timeLeft: f.eta };
  };
  bar.start(Math.max(total, 0), 0, payload());
  return {
    add: (n) => {
      done += n;
      bar.update(Math.min(done, total), payload());
    },
    stop: () => {
      bar.update(Math.min(done, total), payload());
      bar.stop();
    },
  };
}

/**
 * `rangecache warm <url|references>...`: pre-loads objects (block mode, as `cat` and block-mode readers look
 * them up) or whole kerchunk datasets (chunk mode, through `ReferenceStore`, as zarrita readers look them up)
 * into the cache, showing progress on stderr and a summary on stdout.
 */
import type { AsyncCachingReader, ReaderStats } from '@rangecache/core';
import type { Command } from 'commander';
import { readerOptions, redisOptions, s3Options, targetOf, type CommonFlags } from '../config.js';
import { CliError, ExitCode, UsageError } from '../errors.js';
import { type CliIo, println } from '../io.js';
import { progressMode, startProgress, type ProgressMode } from '../progress.js';
import { parseRange } from '../range.js';
import { Session } from '../session.js';
import { formatBytes, formatDuration, parseInteger } from '../units.js';
import { objectWindows, warmObjects } from '../warm-objects.js';

interface WarmFlags extends CommonFlags {
  range?: string;
  concurrency?: string;
  format?: string;
  progress?: string;
}

type Format = 'object' | 'json' | 'parquet';

/** Adds the `warm` command to `program`. */
export function defineWarm(program: Command, io: CliIo): void {
  const command = program
    .command('warm')
    .description('pre-load objects, or every chunk of a kerchunk reference set, into the cache')
    .argument('<targets...>', 'objects (s3://, http(s)://, file:// or paths), or kerchunk reference files (.json, or a Parquet reference directory with --format parquet)')
    .option('-r, --range <range>', 'objects only: just these bytes, FIRST-LAST (both included), FIRST- or -N (whole blocks around them are cached)')
    .option('-c, --concurrency <n>', 'reads in flight at once (each up to 4 MiB of an object, or 256 references)', '8')
    .option('--format <format>', 'auto (a .json target is a kerchunk reference file, anything else an object), object, json or parquet', 'auto')
    .option('--progress <mode>', 'auto (a bar on a terminal, plain lines elsewhere), bar, plain or none (env RANGECACHE_PROGRESS)');
  redisOptions(command);
  readerOptions(command, { ttl: true });
  s3Options(command);
  command.addHelpText('after', `
Objects are cached as blocks of --block-size, for readers in block mode (cat, AsyncCachingReader's default).
A reference set is cached as its readers through @rangecache/reference read it: the reference file and each
referenced byte range as one entry (chunk mode). Progress goes to stderr, the summary to stdout.
Exits 1 if Redis cannot be reached or some cache writes failed (the cache is then not fully warm).

Examples:
  rangecache warm s3://bucket/a.bin s3://bucket/b.bin --concurrency 16
  rangecache warm https://example.com/ocean.json --ttl 1d
  rangecache warm s3://bucket/refs.parq --format parquet --progress plain`);
  command.action((targets: string[], flags: WarmFlags) => runWarm(io, targets, flags));
}

function formatOf(flag: string | undefined, path: string): Format {
  const f = (flag ?? 'auto').toLowerCase();
  if (f === 'auto') return /\.json$/i.test(path.replace(/[?#].*$/, '')) ? 'json' : 'object';
  if (f === 'object' || f === 'json' || f === 'parquet') return f;
  throw new UsageError(`--format: expected auto, object, json or parquet, got ${JSON.stringify(flag)}`);
}

/** Bytes a warm received from the origin (a little more than asked where requests were coalesced across gaps) and from the cache. */
function delta(before: ReaderStats, after: ReaderStats): { origin: number; cached: number } {
  return { origin: after.originBytes - before.originBytes, cached: after.cacheBytes - before.cacheBytes };
}

/**
 * Runs `warm`: objects together (one progress display), then each reference set in turn. Fails (exit code 1)
 * when the cache did not take everything: failed or dropped writes, or a store skipped by the circuit breaker.
 */
export async function runWarm(io: CliIo, targets: readonly string[], flags: WarmFlags): Promise<void> {
  const range = flags.range === undefined ? undefined : parseRange(flags.range);
  const concurrency = parseInteger('--concurrency', flags.concurrency ?? '8', 1, 1024);
  const mode = progressMode(flags.progress ?? io.env['RANGECACHE_PROGRESS'], io.stderr);
  const intervalText = io.env['RANGECACHE_PROGRESS_INTERVAL_MS'];
  const intervalMs = intervalText ? parseInteger('RANGECACHE_PROGRESS_INTERVAL_MS', intervalText, 50, 3_600_000) : undefined;
  const planned = targets.map((t) => ({ path: targetOf(t), format: formatOf(flags.format, t) }));
  if (range && planned.some((p) => p.format !== 'object')) throw new UsageError('--range applies to objects, not to reference sets');
  const session = await Session.open(io, flags, { redis: 'required', origins: true });
  try {
    const readers: AsyncCachingReader[] = [];
    const objects = planned.filter((p) => p.format === 'object').map((p) => p.path);
    if (objects.length > 0) {
      const reader = session.reader('block', { maxConcurrentFetches: concurrency });
      readers.push(reader);
      await warmObjectTargets(io, reader, objects, { range, concurrency, mode, intervalMs });
    }
    const sets = planned.filter((p) => p.format !== 'object');
    if (sets.length > 0) {
      const reader = session.reader('chunk', { maxConcurrentFetches: concurrency });
      readers.push(reader);
      for (const { path, format } of sets) await warmReferenceTarget(io, reader, path, format as 'json' | 'parquet', { concurrency, mode, intervalMs });
    }
    await Promise.all(readers.map((r) => r.flush()));
    const failed = readers.map((r) => r.stats()).reduce((n, s) => n + s.writeErrors + s.writesDropped + s.storeSkipped, 0);
    if (failed > 0) throw new CliError(`warm incomplete: ${failed} cache write(s) failed, were dropped or skipped (Redis at ${session.redisUrl}); run it again`, ExitCode.FAILURE);
  } finally {
    await session.close();
  }
}

interface RunOptions {
  concurrency: number;
  mode: ProgressMode;
  intervalMs: number | undefined;
}

async function warmObjectTargets(io: CliIo, reader: AsyncCachingReader, paths: readonly string[], o: RunOptions & { range: ReturnType<typeof parseRange> | undefined }): Promise<void> {
  const startedAt = Date.now();
  const windows = await objectWindows(reader, paths, o.range, o.concurrency, io.signal);
  const total = windows.reduce((n, w) => n + (w.end - w.start), 0);
  const before = reader.stats();
  const progress = startProgress({ mode: o.mode, stream: io.stderr, label: 'warm', total, intervalMs: o.intervalMs });
  try {
    await warmObjects(reader, windows, { concurrency: o.concurrency, onBytes: (n) => progress.add(n), signal: io.signal });
  } finally {
    progress.stop();
  }
  const d = delta(before, reader.stats());
  const what = paths.length === 1 ? paths[0]! : `${paths.length} objects`;
  println(io.stdout, `warmed ${what}: ${total} bytes (${formatBytes(total)}; ${formatBytes(d.origin)} from the origin, ${formatBytes(d.cached)} from the cache) in ${formatDuration(Date.now() - startedAt)}`);
}

async function warmReferenceTarget(io: CliIo, reader: AsyncCachingReader, url: string, format: 'json' | 'parquet', o: RunOptions): Promise<void> {
  const startedAt = Date.now();
  const { loadReferenceSet, referencedBytes, warmReferences } = await import('../warm-references.js'); // loads @rangecache/reference
  const set = await loadReferenceSet(reader, url, format, o.concurrency, io.signal);
  const total = await referencedBytes(reader, set, o.concurrency, io.signal);
  const before = reader.stats();
  const progress = startProgress({ mode: o.mode, stream: io.stderr, label: 'warm', total, intervalMs: o.intervalMs });
  try {
    await warmReferences(set, { concurrency: o.concurrency, onBytes: (n) => progress.add(n), signal: io.signal });
  } finally {
    progress.stop();
  }
  const d = delta(before, reader.stats());
  println(io.stdout, `warmed ${url}: ${set.entries.length} references, ${total} bytes (${formatBytes(total)}; ${formatBytes(d.origin)} from the origin, ${formatBytes(d.cached)} from the cache) in ${formatDuration(Date.now() - startedAt)}`);
}

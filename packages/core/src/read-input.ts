/** Checks of what callers pass in (paths, ranges, read options, reader options) and of what fetchers return. */
import { OriginError } from './errors.js';
import { ConfigError, InvalidPathError, InvalidRangeError } from './input-errors.js';
import type { ObjectMeta } from './fetcher.js';
import { type ByteRange, checkRangeShape } from './ranges.js';

/** Longest path accepted, in UTF-16 code units: far above any real URL (presigned ones included), far below Redis's key limit. */
const MAX_PATH_LENGTH = 16_384;

export function checkPath(path: unknown): asserts path is string {
  if (typeof path !== 'string') throw new InvalidPathError(String(path).slice(0, 100), `a path must be a string, got ${typeof path}`);
  if (path.length === 0) throw new InvalidPathError(path, 'a path must not be empty');
  if (path.length > MAX_PATH_LENGTH) throw new InvalidPathError(`${path.slice(0, 100)}…`, `a path must be at most ${MAX_PATH_LENGTH} characters, got ${path.length}`);
  if (path.includes('\0')) throw new InvalidPathError(path, 'a path must not contain a NUL character');
}

/** A range taken out of a caller's object: each end read once, validated, and copied into a plain object. */
export function ownRange(path: string, range: unknown): ByteRange {
  if (range === null || typeof range !== 'object') {
    throw new InvalidRangeError(path, { start: undefined, end: undefined }, `a range must be an object { start, end }, got ${range === null ? 'null' : typeof range}`);
  }
  const { start, end } = range as { start: unknown; end: unknown };
  checkRangeShape(path, start, end);
  return { start, end: end as number };
}

/** The caller's signal, after checking that the read options are an object and the signal an AbortSignal. */
export function signalOf(method: string, path: string, options: unknown): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object') invalidOptions(method, path, options);
  const { signal } = options as { signal?: unknown };
  if (signal === undefined) return undefined;
  if (!isAbortSignal(signal)) {
    throw new ConfigError(`${method}(${path}): options.signal must be an AbortSignal, got ${signal === null ? 'null' : typeof signal}`);
  }
  return signal;
}

function invalidOptions(method: string, path: string, options: unknown): never {
  throw new ConfigError(`${method}(${path}): options must be an object such as { signal }, got ${options === null ? 'null' : typeof options}`);
}

/** Duck-typed, so that a signal from another realm (a vm context, a polyfill) is accepted too. */
function isAbortSignal(value: unknown): value is AbortSignal {
  const s = value as Partial<AbortSignal> | null;
  return typeof s === 'object' && s !== null && typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function'
    && typeof s.removeEventListener === 'function' && typeof s.throwIfAborted === 'function';
}

export function checkMeta(meta: ObjectMeta, path: string, backend: string): void {
  if (!meta || !Number.isSafeInteger(meta.size) || meta.size < 0 || typeof meta.version !== 'string' || meta.version === '') {
    throw new OriginError('fetcher returned invalid metadata', { path, backend });
  }
}

export function integerOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`AsyncCachingReader: ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Longest duration option: ten years, in ms. Redis refuses expiry times that overflow its clock. */
const MAX_DURATION_MS = 10 * 365 * 24 * 3600 * 1000;

/** A duration option: a positive whole number of milliseconds, at most ten years. */
export function durationOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > MAX_DURATION_MS) {
    throw new ConfigError(`AsyncCachingReader: ${name} must be a positive whole number of milliseconds, at most ${MAX_DURATION_MS} (ten years), got ${String(value)}`);
  }
  return value;
}

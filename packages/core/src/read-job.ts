/**
 * The records a batch of reads works on: pieces (blocks or chunks) of objects, the in-process flights that fetch
 * them, and the origin requests those flights share. Internal to the reader and its stages.
 */
import type { ObjectMeta } from './fetcher.js';
import type { ByteRange } from './ranges.js';

/** A piece of an object as the cache stores it: one block, or one chunk. */
export interface Piece {
  key: string;
  range: ByteRange;
  object: ObjectRef;
  /** Bytes found in the store: owned by this batch, so one consumer may take them without a copy. */
  value?: Uint8Array;
  flight?: Flight;
  consumers: number;
  /** Only read-ahead wants it: fetched as a request of its own, in parallel with its neighbours. */
  ahead: boolean;
  /** Its cached value was refused (a weak-version read that must not mix cached and fetched bytes): fetch it. */
  refetch?: boolean;
  /** What the batch's lookup found of its lease, where the lookup took leases (`lookupAndClaim`). */
  lease?: 'claimed' | 'busy';
  /** The part of a `readRangeInto` caller's memory this piece fills, where that read is its one consumer. */
  into?: Uint8Array;
}

export interface ObjectRef {
  path: string;
  meta: ObjectMeta;
  prefix: string;
}

/** How a write to the store ended: `unknown` when it timed out (it may still land). */
export type WriteOutcome = 'written' | 'failed' | 'unknown';

/** A write's outcome; for one that timed out, `completed` tells later whether it landed after all. */
export interface WriteResult {
  outcome: WriteOutcome;
  completed?: Promise<boolean>;
}

/** What asking the fleet about some pieces found. */
export interface FleetOutcome {
  /** This reader holds their leases (or must fetch them anyway): it fetches them. */
  claimed: Piece[];
  /** Another instance holds their leases: wait for them to land. */
  busy: Piece[];
  /** How many had landed: their flights are resolved from the store. */
  landed: number;
}

/** One origin request shared by the pieces it covers and the callers that wait on them. */
export interface FetchTask {
  controller: AbortController;
  interest: number;
  done: boolean;
  /** Keys of the pieces it fetches, to take them out of the in-flight map the moment it is aborted. */
  keys: string[];
}

export interface Flight {
  task: FetchTask;
  promise: Promise<Uint8Array>;
  resolve: (bytes: Uint8Array) => void;
  reject: (error: unknown) => void;
  /** Its bytes are in the store now (the store keeps its own copy), so one caller may take them without a copy. */
  persisted: boolean;
  /** Reads that take bytes from it, in the batch that started it and in the batches that joined it. */
  consumers: number;
  /**
   * Joins by batches whose reads are not counted in `consumers` yet (a batch counts them once its store lookup is
   * over). While any is pending, nobody may take the bytes without a copy: a joiner may take them too.
   */
  uncountedJoins: number;
}

export interface ReadJob {
  object: ObjectRef;
  ranges: ByteRange[];
  signal: AbortSignal | undefined;
  settled: boolean;
  resolve: (values: Uint8Array[]) => void;
  reject: (error: unknown) => void;
  /** Origin requests this read waits on; each counts this read once in its `interest`. */
  tasks: Set<FetchTask>;
  /** Per range: the pieces that make it up. */
  pieces: Piece[][];
  /**
   * Chunk mode, per range: when `pieces[i]` is a larger cached chunk containing the range, the exact-range piece
   * to use instead if that chunk turns out to be gone. Kept per read, since reads share the containing chunk.
   */
  fallbacks: (Piece | undefined)[];
  unsubscribe: (() => void) | undefined;
  /** Read-ahead: nobody waits for the bytes, so they are cached but not assembled. */
  ahead: boolean;
  /** Bytes of the sequential scan this read continues (0: none). If it misses, blocks after it are fetched ahead. */
  scanned: number;
  /** `readRangeInto`: the caller's memory for the one range, which receives the bytes instead of a new array. */
  into?: Uint8Array;
  /** `into` is the read's own result (a readRange over several blocks), not a caller's memory. */
  intoIsResult?: boolean;
  /** Stops the store from writing into `into` (the batch's lookup may still be running when the read ends). */
  abandonInto?: () => void;
}

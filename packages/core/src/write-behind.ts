/**
 * Write-behind: values fetched from the origin go to the store in the background, bounded by the bytes that
 * may wait for it, so that a slow or stalled store never makes a process buffer without bound.
 */
import { orAfter } from './late-answers.js';
import type { WriteResult } from './read-job.js';
import type { StoreEntry } from './store.js';

/** Longest time the bytes of a timed-out write stay counted against the bound while it may still land. */
const MAX_WRITE_HOLD_MS = 30_000;

export interface WriteBehindHooks {
  /**
   * Writes `entries` (and, with `releaseLeases`, then releases this reader's leases on their keys); rejects, never
   * throws. Its failures are counted where the store is guarded, not here.
   */
  setMany(entries: readonly StoreEntry[], releaseLeases: boolean): Promise<void>;
  /** A write of `bytes` was dropped (and counted in `writesDropped`): the bound was reached. */
  dropped(bytes: number): void;
}

export class WriteBehind {
  readonly counters = { writesDropped: 0 };
  /** Bytes of writes not yet settled; a write that would pass `maxPendingBytes` is dropped (unless none waits). */
  readonly maxPendingBytes: number;
  #hooks: WriteBehindHooks;
  #pendingBytes = 0;
  #work = new Set<Promise<unknown>>();

  constructor(maxPendingBytes: number, hooks: WriteBehindHooks) {
    this.maxPendingBytes = maxPendingBytes;
    this.#hooks = hooks;
  }

  /** The bytes of writes that have not settled yet. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Starts a write and returns how it ended: `written`, `failed` (also: dropped), or `unknown` when it timed out
   * (it may still land; `completed` says later). Never rejects.
   */
  write(entries: StoreEntry[], releaseLeases = false): Promise<WriteResult> {
    if (entries.length === 0) return Promise.resolve({ outcome: 'written' });
    const bytes = entries.reduce((n, e) => n + e.value.byteLength, 0);
    if (this.#pendingBytes + bytes > this.maxPendingBytes && this.#pendingBytes > 0) {
      this.counters.writesDropped++;
      this.#hooks.dropped(bytes);
      return Promise.resolve({ outcome: 'failed' });
    }
    this.#pendingBytes += bytes;
    let held: Promise<unknown> | undefined;
    const w = this.#hooks.setMany(entries, releaseLeases)
      .then((): WriteResult => ({ outcome: 'written' }), (e: unknown): WriteResult => {
        // A write that timed out may still hold the bytes (in the client's queue) until its command settles:
        // they stay counted until then, so a stalled store cannot make this process buffer without bound.
        const { settled, completed } = (e ?? {}) as { settled?: unknown; completed?: unknown };
        held = settled instanceof Promise ? settled : undefined;
        if (held === undefined) return { outcome: 'failed' };
        return completed instanceof Promise ? { outcome: 'unknown', completed: completed as Promise<boolean> } : { outcome: 'unknown' };
      })
      .finally(() => {
        if (held === undefined) {
          this.#pendingBytes -= bytes;
          return;
        }
        // Held until the command settles, or at most MAX_WRITE_HOLD_MS: a command the client lost never
        // settles, and must not keep its bytes counted forever.
        void orAfter(held.catch(() => {}), MAX_WRITE_HOLD_MS, undefined).then(() => { this.#pendingBytes -= bytes; });
      });
    this.track(w);
    return w;
  }

  /** Remembers background work, so that flush() can wait for it. */
  track(work: Promise<unknown>): void {
    const w = work.finally(() => this.#work.delete(w));
    w.catch(() => {});
    this.#work.add(w);
  }

  /** Waits until every write (and tracked work) started so far has finished or failed, and any they started. */
  async flush(): Promise<void> {
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
  }
}

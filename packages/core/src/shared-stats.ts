/**
 * Publishes a reader's counters to its store (`ReaderOptions.sharedStats`), where the readers of a namespace add
 * up into one hash that operators read (`rangecache stats`). Only what changed since the last publication is sent.
 */
import type { ReaderStats } from './reader-options.js';
import type { CacheStore } from './store.js';

export class SharedStats {
  #store: CacheStore & Required<Pick<CacheStore, 'addCounters'>>;
  #key: string;
  #snapshot: () => ReaderStats;
  /** What the store has been told so far (a failed publication is not counted: its deltas go with the next). */
  #published: Partial<Record<keyof ReaderStats, number>> = {};
  #timer: NodeJS.Timeout;
  #inFlight: Promise<void> | undefined;

  /**
   * @param key the hash the counters go to (`statsKey(namespace)`).
   * @param snapshot the reader's counters now.
   */
  constructor(store: CacheStore, key: string, intervalMs: number, snapshot: () => ReaderStats) {
    this.#store = store as CacheStore & Required<Pick<CacheStore, 'addCounters'>>;
    this.#key = key;
    this.#snapshot = snapshot;
    this.#timer = setInterval(() => void this.publish().catch(() => {}), intervalMs);
    this.#timer.unref(); // counters never keep a process alive
  }

  /** Sends what changed since the last publication (one at a time); rejects when the store failed. */
  async publish(): Promise<void> {
    while (this.#inFlight) await this.#inFlight.catch(() => {});
    const now = this.#snapshot();
    const delta: Record<string, number> = {};
    for (const [name, n] of Object.entries(now) as [keyof ReaderStats, number][]) {
      const d = n - (this.#published[name] ?? 0);
      if (d !== 0) delta[name] = d;
    }
    if (Object.keys(delta).length === 0) return;
    const sending = this.#store.addCounters(this.#key, delta).then(() => {
      for (const [name, d] of Object.entries(delta) as [keyof ReaderStats, number][]) this.#published[name] = (this.#published[name] ?? 0) + d;
    });
    this.#inFlight = sending;
    try {
      await sending;
    } finally {
      this.#inFlight = undefined;
    }
  }

  /** Stops the timer and publishes what is left. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.publish();
  }
}

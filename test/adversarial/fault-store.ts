/**
 * A hostile {@link CacheStore} for the adversarial suite: wraps a real store (MemoryStore or RedisStore) and, at
 * random (from a seeded generator), throws (as a rejection or synchronously), delays, never answers until a
 * deadline of its own, drops writes while reporting success, truncates values on read, returns garbage, or
 * returns the value of another key.
 *
 * A reader must fail open over all of this: a caller sees the origin's bytes, never a store error.
 *
 * Returning another key's value of the *same* length cannot be detected by a length check; the reader only
 * promises to catch it with `integrity` set (the HMAC covers the key). So `sameLengthWrongKey` is on only when
 * the fuzz runs with integrity; otherwise wrong-key values always differ in length from the real one, and the
 * metadata key gets garbage instead of another object's metadata (which is valid JSON the reader must trust).
 */
import type { CacheStore, FetchCoordinator, StoreEntry } from '@rangecache/core';

export type StoreFault = 'throw' | 'syncThrow' | 'delay' | 'hang' | 'dropWrite' | 'truncate' | 'garbage' | 'wrongKey' | 'wrongCount';

export interface FaultStoreOptions {
  /** Uniform [0, 1) generator; seeded by the test so a run can be replayed. */
  random: () => number;
  /** Probability that one store call is faulted. 0 turns faults off (the wrapper is then transparent). */
  rate: number;
  /** The faults to pick from (default: all). */
  faults?: readonly StoreFault[];
  /** A "hang" rejects after this many ms (the store's own deadline, like a command timeout). Default 300. */
  hangMs?: number;
  /** Longest random delay, ms. Default 40. */
  maxDelayMs?: number;
  /** Allow wrong-key values of the right length (only detectable with integrity). Default false. */
  sameLengthWrongKey?: boolean;
  /** Fault the coordinator's claim/release too (throw or hang). Default true. */
  faultCoordinator?: boolean;
}

/** What the fault store did, for the test's log. */
export interface FaultCounts {
  calls: number;
  faults: Record<StoreFault, number>;
}

export class InjectedStoreError extends Error {
  readonly code = 'ERR_TEST_INJECTED_STORE_FAULT';
  constructor(what: string) {
    super(`injected store fault: ${what}`);
    this.name = 'InjectedStoreError';
  }
}

const ALL: readonly StoreFault[] = ['throw', 'syncThrow', 'delay', 'hang', 'dropWrite', 'truncate', 'garbage', 'wrongKey', 'wrongCount'];

export class FaultStore implements CacheStore {
  readonly inner: CacheStore;
  readonly coordinator?: FetchCoordinator;
  rate: number;
  readonly counts: FaultCounts = { calls: 0, faults: Object.fromEntries(ALL.map((f) => [f, 0])) as Record<StoreFault, number> };
  #o: Required<Omit<FaultStoreOptions, 'rate'>>;
  /** Recently seen values, by key: the source of wrong-key answers. */
  #seen = new Map<string, Uint8Array>();
  #timers = new Set<NodeJS.Timeout>();

  constructor(inner: CacheStore, options: FaultStoreOptions) {
    this.inner = inner;
    this.rate = options.rate;
    this.#o = {
      random: options.random, faults: options.faults ?? ALL, hangMs: options.hangMs ?? 300, maxDelayMs: options.maxDelayMs ?? 40,
      sameLengthWrongKey: options.sameLengthWrongKey ?? false, faultCoordinator: options.faultCoordinator ?? true,
    };
    if (inner.coordinator) this.coordinator = this.#wrapCoordinator(inner.coordinator);
  }

  getMany(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    const fault = this.#pick(['throw', 'syncThrow', 'delay', 'hang', 'truncate', 'garbage', 'wrongKey', 'wrongCount']);
    if (fault === 'syncThrow') throw new InjectedStoreError('getMany threw synchronously');
    return this.#around(fault, 'getMany', async () => {
      const values = await this.inner.getMany(keys);
      values.forEach((v, i) => { if (v) this.#remember(keys[i]!, v); });
      if (fault === 'wrongCount') return values.length > 0 && this.#o.random() < 0.5 ? values.slice(1) : [...values, null];
      if (fault !== 'truncate' && fault !== 'garbage' && fault !== 'wrongKey') return values;
      // Damage one value (or several): the others stay right.
      return values.map((v, i) => (v !== null && (i === 0 || this.#o.random() < 0.3) ? this.#damage(fault, keys[i]!, v) : v));
    });
  }

  setMany(entries: readonly StoreEntry[]): Promise<void> {
    const fault = this.#pick(['throw', 'syncThrow', 'delay', 'hang', 'dropWrite']);
    if (fault === 'syncThrow') throw new InjectedStoreError('setMany threw synchronously');
    return this.#around(fault, 'setMany', async () => {
      if (fault === 'dropWrite') return; // reports success, keeps nothing (and releases no lease)
      await this.inner.setMany(entries);
    });
  }

  deleteMany(keys: readonly string[]): Promise<void> {
    const fault = this.#pick(['throw', 'delay', 'hang']);
    return this.#around(fault, 'deleteMany', () => this.inner.deleteMany(keys));
  }

  deleteByPrefix(prefix: string): Promise<number> {
    const fault = this.#pick(['throw', 'delay', 'hang']);
    return this.#around(fault, 'deleteByPrefix', () => this.inner.deleteByPrefix(prefix));
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    // The inner store is the test's: it closes it.
  }

  #pick(allowed: readonly StoreFault[]): StoreFault | undefined {
    this.counts.calls++;
    if (this.rate <= 0 || this.#o.random() >= this.rate) return undefined;
    const choices = this.#o.faults.filter((f) => allowed.includes(f));
    if (choices.length === 0) return undefined;
    const f = choices[Math.floor(this.#o.random() * choices.length)]!;
    this.counts.faults[f]++;
    return f;
  }

  async #around<T>(fault: StoreFault | undefined, op: string, call: () => Promise<T>): Promise<T> {
    if (fault === 'throw') throw new InjectedStoreError(`${op} rejected`);
    if (fault === 'hang') {
      // Never answers; then our own deadline fires (the inner call is not even made).
      await this.#sleep(this.#o.hangMs);
      throw new InjectedStoreError(`${op} did not answer within ${this.#o.hangMs} ms`);
    }
    if (fault === 'delay') await this.#sleep(Math.floor(this.#o.random() * this.#o.maxDelayMs));
    return call();
  }

  #damage(fault: StoreFault, key: string, v: Uint8Array): Uint8Array | null {
    if (fault === 'truncate') return v.byteLength === 0 ? new Uint8Array([0x42]) : v.slice(0, Math.floor(this.#o.random() * v.byteLength));
    if (fault === 'garbage') {
      const len = v.byteLength + 1 + Math.floor(this.#o.random() * 8);
      return new Uint8Array(len).fill(0x7b); // '{{{{…': not JSON, and the wrong length for any block
    }
    // wrongKey: the value of another key we have seen.
    const isMeta = key.endsWith(':meta}');
    for (const [other, value] of this.#seen) {
      if (other === key) continue;
      if (isMeta && !this.#o.sameLengthWrongKey) break; // another object's metadata is valid JSON: undetectable
      if (!this.#o.sameLengthWrongKey && value.byteLength === v.byteLength) continue;
      return value.slice();
    }
    return new Uint8Array(v.byteLength + 3).fill(0x7b);
  }

  #remember(key: string, v: Uint8Array): void {
    if (this.#seen.size >= 64) this.#seen.delete(this.#seen.keys().next().value!);
    this.#seen.set(key, v.slice());
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.#timers.delete(t); resolve(); }, ms);
      this.#timers.add(t);
    });
  }

  #wrapCoordinator(c: FetchCoordinator): FetchCoordinator {
    const fault = (): StoreFault | undefined => (this.#o.faultCoordinator ? this.#pick(['throw', 'delay', 'hang']) : undefined);
    return {
      claim: (keys, ttlMs) => this.#around(fault(), 'claim', () => c.claim(keys, ttlMs)),
      release: (keys) => this.#around(fault(), 'release', () => c.release(keys)),
      waitForRelease: (keys, timeoutMs, signal) => c.waitForRelease(keys, timeoutMs, signal),
      close: () => c.close(),
    };
  }
}

/**
 * In-process single flight: each piece being fetched has one flight, which later reads of the same piece join,
 * and each batch's origin requests share one task whose abort controller is reference-counted by the reads
 * that wait on it (as PMTiles' `{controller, refs}`): one caller's abort never cancels a fetch others share.
 */
import { setMaxListeners } from 'node:events';
import { abortError } from './errors.js';
import type { FetchTask, Flight, Piece, ReadJob } from './read-job.js';

export class FlightTable {
  /** Pieces that joined a flight already in the table. */
  readonly counters = { joins: 0 };
  #inflight = new Map<string, Flight>();

  /**
   * Joins the flight of `p` if one is in the table (counted as a join). The join stays pending in
   * `flight.uncountedJoins` until {@link countJoins} is called with the flight, once the joining batch has counted
   * its reads in `flight.consumers`.
   */
  join(p: Piece): boolean {
    const flight = this.#inflight.get(p.key);
    if (!flight) return false;
    p.flight = flight;
    flight.uncountedJoins++;
    this.counters.joins++;
    return true;
  }

  /** The joins of `flights` (one entry per join) are counted in their consumers now. */
  countJoins(flights: readonly Flight[]): void {
    for (const flight of flights) flight.uncountedJoins--;
  }

  /**
   * Starts one flight per piece, all under one new task (one abort controller for the batch's origin requests),
   * and enters them in the table, so that concurrent reads join them at once. A flight that fails leaves the table:
   * the next reader tries again.
   */
  start(pieces: readonly Piece[]): FetchTask {
    const task: FetchTask = { controller: new AbortController(), interest: 0, done: false, keys: pieces.map((p) => p.key) };
    // Our own signal, shared by every origin request and queued slot of this batch: no listener limit applies.
    setMaxListeners(0, task.controller.signal);
    // Done once every piece has its bytes (or failed): from then on nothing is left to abort, writes included.
    let unsettled = pieces.length;
    const settledOne = (): void => { if (--unsettled === 0) task.done = true; };
    for (const p of pieces) {
      let resolve!: (bytes: Uint8Array) => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<Uint8Array>((res, rej) => { resolve = res; reject = rej; });
      promise.then(settledOne, settledOne);
      const flight: Flight = { task, promise, resolve, reject, persisted: false, consumers: 0, uncountedJoins: 0 };
      p.flight = flight;
      this.#inflight.set(p.key, flight);
      promise.catch(() => this.forget(p));
    }
    return task;
  }

  /** Takes the flight of `p` out of the table (if it is still the one there): new reads go to the store. */
  forget(p: Piece): void {
    if (this.#inflight.get(p.key) === p.flight) this.#inflight.delete(p.key);
  }

  /** Resolves the flight of `p` with a value read from the store (the store keeps its own copy). */
  resolveStored(p: Piece, value: Uint8Array): void {
    p.flight!.persisted = true;
    this.forget(p);
    p.flight!.resolve(value);
  }

  /** Counts each live read once in the interest of every task it now waits on. */
  attach(jobs: readonly ReadJob[]): void {
    for (const job of jobs) {
      if (job.settled) continue;
      for (const list of job.pieces) {
        for (const p of list) {
          const task = p.flight?.task;
          if (task && !job.tasks.has(task)) {
            job.tasks.add(task);
            task.interest++;
          }
        }
      }
    }
  }

  /** A read is done (or gone): the tasks it was the last to wait on are aborted, and their flights forgotten. */
  detach(job: ReadJob): void {
    for (const task of job.tasks) {
      if (--task.interest === 0 && !task.done) {
        for (const key of task.keys) if (this.#inflight.get(key)?.task === task) this.#inflight.delete(key);
        task.controller.abort(abortError(job.signal ?? AbortSignal.abort()));
      }
    }
  }
}

/**
 * How `RedisStore` sends a call of one or more commands under time budgets that measure failure, not size: parts
 * go out two at a time, and each must answer within its budget (base + per MiB it moves, and the bytes of calls
 * still ahead of it) of the last progress: a reply to an earlier command on its connection, or bytes arriving on the
 * store's lookup connection (see {@link WindowedCalls.run}).
 */
import { StoreError, StoreTimeoutError } from '@rangecache/core';
import type { RedisDriver } from './driver.js';
import { withResponsiveTimeout } from './responsive-timeout.js';
import { type CallBudgets, MAX_ADAPTIVE_FACTOR } from './round-trip.js';

/** A budget ran out: a marker, never thrown to callers. One for all calls (an Error made per call cost ~7 µs: its stack). */
const EXPIRED = new Error('no reply within the budget');

/** Which connection a call goes over: the client's (node-redis), or the store's own lookup connection. */
export type Channel = 'client' | 'lookups';

/** A connection's commands sent, its last reply, and the value bytes of calls not yet answered (see `WindowedCalls.#progress`). */
interface Progress {
  sent: number;
  last: { at: number; seq: number };
  inFlightBytes: number;
}

/** One command of a windowed call, with the value bytes it moves (either direction) for its time budget. */
export interface Part<T> {
  send: () => Promise<T>;
  bytes: number;
}

/** Sends a store's calls, per connection, with the deadlines of {@link CallBudgets}. */
export class WindowedCalls {
  readonly #driver: RedisDriver;
  readonly #budgets: CallBudgets;
  /**
   * Per connection (the client's, and the store's own for lookups): commands sent, numbered in order, and when
   * the last reply came (performance.now()) and to which command, and the value bytes of its calls not yet
   * answered. Redis answers each connection in order, so replies on one connection say nothing of the order of
   * commands queued on the other.
   */
  readonly #progress: Record<Channel, Progress> = {
    client: { sent: 0, last: { at: 0, seq: 0 }, inFlightBytes: 0 },
    lookups: { sent: 0, last: { at: 0, seq: 0 }, inFlightBytes: 0 },
  };

  /** Value bytes of `channel`'s calls not yet answered: what a command sent there now would wait behind. */
  inFlightBytes(channel: Channel): number {
    return this.#progress[channel].inFlightBytes;
  }

  /** When Redis last sent this store bytes on its own lookup connection (performance.now(); 0: never or unknown). */
  readonly #lastDataAt: () => number;

  /**
   * @param lastDataAt - When Redis last sent bytes to this store (its lookup connection), however big the reply: a
   * Redis that is still sending is alive, and a call waiting behind its busy output does not time out for it.
   */
  constructor(driver: RedisDriver, budgets: CallBudgets, lastDataAt: () => number = () => 0) {
    this.#driver = driver;
    this.#budgets = budgets;
    this.#lastDataAt = lastDataAt;
  }

  /**
   * `reply` (the answer to command number `seq` of its connection), or `timeout()` once `ms` have passed without
   * progress. Progress is either of:
   * - a reply to a command sent before this one on the same connection: Redis answers a connection's commands in
   *   order, so this one is queued behind them on a live server (a reply to a command sent after it means its own
   *   was lost, as node-redis can lose commands across a reconnect: no more waiting);
   * - bytes Redis sent this store's lookup connection: a Redis streaming big replies to many readers (a fleet woken
   *   by one release) is alive, and serves this call when its turn comes.
   * The budget runs from the last progress. Never longer than MAX_ADAPTIVE_FACTOR budgets in all: a Redis that is
   * stalled sends nothing, and fails the call after `ms`.
   */
  async #whileProgressing<T>(reply: Promise<T>, seq: number, ms: number, timeout: () => StoreTimeoutError, progress: Progress): Promise<T> {
    const start = performance.now();
    let since = start;
    let budget = ms;
    for (;;) {
      try {
        return await withResponsiveTimeout(reply, budget, () => EXPIRED);
      } catch (e) {
        if (e !== EXPIRED) throw e;
        const last = progress.last;
        const lost = last.seq > seq; // a later command on this connection was answered, and this one was not
        const queuedBehind = last.at > since && last.seq < seq;
        const dataAt = this.#lastDataAt();
        const receiving = dataAt > since;
        if (lost || (!queuedBehind && !receiving) || performance.now() - start > MAX_ADAPTIVE_FACTOR * ms) throw timeout();
        since = Math.max(queuedBehind ? last.at : since, receiving ? dataAt : since);
        budget = Math.max(1, ms - (performance.now() - since));
      }
    }
  }

  /**
   * Sends `parts` in order with at most two in flight, and returns their replies. Each reply must arrive within
   * its part's budget of the one before it (of the call, for the first), not counting time this process spent
   * blocked: a stalled server fails fast, while a big batch still has time to stream. Failures are StoreErrors;
   * a timeout carries `settled`, covering every part that was sent.
   */
  async run<T>(operation: string, parts: readonly Part<T>[], channel: Channel = 'client'): Promise<T[]> {
    const progress = this.#progress[channel];
    // While the client reconnects, node-redis would queue commands (and their megabytes) in its offline queue;
    // failing now sends the read to the origin at once. (node-redis 4: the store's own connection may have to open
    // first, within twice the base budget.)
    const opening = this.#driver.ready(operation, 2 * this.#budgets.base());
    if (opening) await opening;
    // Bytes of other calls still ahead on this connection: Redis answers them first, so the first part's budget
    // includes them (a small call sent behind a 16 MiB write must not time out for the write's size).
    const ahead = progress.inFlightBytes;
    // Each sent part's bytes leave the connection's count when it is answered, or when this call times out: a
    // stalled Redis must not stretch every later call's budget with bytes it will never answer for.
    const uncount: (() => void)[] = [];
    const sent: Promise<T>[] = [];
    const inFlight: { reply: Promise<T>; seq: number }[] = [];
    let next = 0;
    const send = (): void => {
      let reply: Promise<T>;
      const seq = ++progress.sent;
      const part = parts[next++]!;
      try {
        reply = part.send();
      } catch (e) {
        reply = Promise.reject(e);
      }
      progress.inFlightBytes += part.bytes;
      let counted = true;
      const answered = (): void => {
        if (counted) progress.inFlightBytes -= part.bytes;
        counted = false;
      };
      uncount.push(answered);
      // Every reply is progress of the connection, also one that comes after its own call timed out: calls
      // queued behind it must not time out for its lateness.
      reply.then(() => {
        answered();
        if (seq > progress.last.seq) progress.last = { at: performance.now(), seq };
      }, answered);
      sent.push(reply);
      inFlight.push({ reply, seq });
    };
    while (next < parts.length && inFlight.length < 2) send();
    const out: T[] = [];
    let waitingFor = 0;
    while (inFlight.length > 0) {
      const { bytes } = parts[waitingFor]!;
      const ms = this.#budgets.forBytes(waitingFor === 0 ? bytes + ahead : bytes);
      const { reply, seq } = inFlight.shift()!;
      const started = performance.now();
      try {
        out.push(await this.#whileProgressing(reply, seq, ms, () => {
          const all = Promise.allSettled(sent);
          const completed = all.then((rs) => rs.every((r) => r.status === 'fulfilled'));
          const complete = next === parts.length; // parts never sent have no answer
          const answer = all.then((rs) => (complete && rs.every((r) => r.status === 'fulfilled')
            ? rs.map((r) => (r as PromiseFulfilledResult<T>).value) : undefined));
          return new StoreTimeoutError(operation, ms, completed.then(() => undefined), completed, answer);
        }, progress));
      } catch (e) {
        // As TCP does after a retransmission timeout: the next calls get twice the time, until one succeeds. The
        // late reply is no sample: a paused Redis answers late too, and budgets must not grow to fit a stall.
        if (e instanceof StoreTimeoutError) {
          this.#budgets.backoff(bytes);
          for (const f of uncount) f();
        }
        throw StoreError.from(operation, e);
      }
      this.#budgets.sample(bytes, performance.now() - started);
      waitingFor++;
      if (next < parts.length) send();
    }
    return out;
  }
}

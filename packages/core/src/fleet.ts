/**
 * Single flight across processes, as a stage around the loader: pieces the fleet may share are claimed first
 * (one lease per piece, through the store's coordinator); this process fetches the ones it wins, waits for the
 * ones another process holds (reading each as it lands), and fetches a piece itself only when its holder died
 * or gave up, or the store failed. Only a reader with leases (`leaseMs`) and a coordinator uses it.
 */
import type { ClaimResult, FetchCoordinator, LookupClaimResult } from './coordinator.js';
import { answersLate, lateAnswer } from './late-answers.js';
import type { FlightTable } from './flight-table.js';
import type { StoreLookup } from './lookup.js';
import { release, type OriginLoader } from './origin-loader.js';
import type { FleetOutcome, Piece } from './read-job.js';

/** Claims of a batch's misses tried while the store only times out (each try gets twice the time). */
const CLAIM_ATTEMPTS = 5;
/** Longest wait for a piece another instance is fetching (and keeps its lease on): past it, this one fetches it. */
const MAX_FLEET_WAIT_MS = 60_000;

/** The parts of the reader the fleet stage works with. */
export interface FleetParts {
  /** Pieces waited on at once at most; past it, the rest are fetched directly. */
  readonly maxFleetWaiters: number;
  /** The loader this stage wraps: fetches pieces, lands them, and extends and releases their leases. */
  readonly loader: OriginLoader;
  /** Reads pieces that landed (and checks stored values). */
  readonly lookup: StoreLookup;
  /** Resolves flights from stored values. */
  readonly flights: FlightTable;
}

/**
 * The fleet stage: a wrapper around the loader that makes the processes sharing a store fetch each missing piece
 * once. Made only for a reader with leases and a store with a coordinator.
 *
 * @example
 * ```ts
 * const fleet = new FleetLoader({ maxFleetWaiters: 4096, loader, lookup, flights }, store.coordinator, 2000);
 * await fleet.load(missingPieces, signal); // every piece's flight resolves (or rejects)
 * ```
 */
export class FleetLoader {
  readonly counters = { fleetWaits: 0, fleetFallbacks: 0, aheadDropped: 0 };
  readonly coordinator: FetchCoordinator;
  readonly leaseMs: number;
  #host: FleetParts;
  /** Pieces this reader waits on now, across batches (bounded by maxFleetWaiters). */
  #waiting = 0;

  constructor(host: FleetParts, coordinator: FetchCoordinator, leaseMs: number) {
    this.#host = host;
    this.coordinator = coordinator;
    this.leaseMs = leaseMs;
  }

  /**
   * Claims pieces across processes, then fetches, awaits or reads each according to its claim. Pieces whose lease
   * the batch's lookup already took (or found busy) skip the claim.
   */
  async load(pieces: Piece[], signal: AbortSignal): Promise<void> {
    const { coordinator } = this;
    const unknown = pieces.filter((p) => p.lease === undefined);
    let outcome: FleetOutcome = { claimed: pieces.filter((p) => p.lease === 'claimed'), busy: pieces.filter((p) => p.lease === 'busy'), landed: 0 };
    for (let attempt = 1; unknown.length > 0; attempt++) {
      try {
        const more = await this.#claimOrRead(unknown, signal);
        outcome = { claimed: [...outcome.claimed, ...more.claimed], busy: [...outcome.busy, ...more.busy], landed: more.landed };
        break;
      } catch (e) {
        // A store that is only slow is asked again (with twice the time); past that, or a failed store: no
        // coordination for these, fetch them as a lone process would.
        if (attempt < CLAIM_ATTEMPTS && !signal.aborted && (await answersLate(e))) continue;
        outcome.claimed.push(...unknown);
        break;
      }
    }
    // Waiting is bounded too: past maxFleetWaiters pieces, fetch the rest directly (no lease: a small overlap).
    const room = Math.max(0, this.#host.maxFleetWaiters - this.#waiting);
    const direct = outcome.busy.slice(room);
    const busy = outcome.busy.slice(0, room);
    this.#waiting += busy.length;
    await Promise.all([
      this.#host.loader.fetchPieces([...outcome.claimed, ...direct], signal, coordinator),
      busy.length > 0 ? this.#await(busy, signal).finally(() => { this.#waiting -= busy.length; }) : undefined,
    ]);
  }

  /**
   * Waits for pieces another process is fetching. Its holder lands them group by group (one origin response at a
   * time) and extends its lease while it fetches, so a wake-up names the pieces that landed, and only those are
   * read; a wait that times out asks about all of them again (a holder that died lets its lease lapse, and the
   * piece is claimed here). Pieces this reader wins are fetched at once, not after the others.
   */
  async #await(pieces: Piece[], signal: AbortSignal): Promise<void> {
    const { coordinator, leaseMs } = this;
    let pending = pieces;
    // Only a holder whose origin never answers (it keeps its lease alive) can hold waiters this long.
    const deadline = Date.now() + Math.max(3 * leaseMs, MAX_FLEET_WAIT_MS);
    const fetches: Promise<void>[] = [];
    let timeouts = 0; // store calls in a row that timed out
    const fallback = (list: Piece[]): void => {
      if (list.length === 0) return;
      this.counters.fleetFallbacks += list.length;
      fetches.push(this.#host.loader.fetchPieces(list, signal, coordinator));
    };
    while (pending.length > 0 && Date.now() < deadline && !signal.aborted) {
      // Half a lease at most: a holder that died is noticed within about 1.5 lease periods of its last extension.
      const released = await coordinator.waitForRelease(pending.map((p) => p.key), Math.min(leaseMs / 2, deadline - Date.now()), signal);
      const woken = new Set<string>(Array.isArray(released) ? released : []);
      let check = woken.size > 0 ? pending.filter((p) => woken.has(p.key)) : pending;
      if (check.length === 0) continue;
      const checked = new Set(check);
      let outcome: FleetOutcome;
      try {
        if (woken.size > 0) {
          // Read-ahead nobody reads yet has done its job once its holder released it: the read that wants it
          // looks it up then. Reading it now would read it twice, since its flight leaves the table once resolved.
          const landedAhead = check.filter(onlyReadAhead);
          if (landedAhead.length > 0) {
            this.#leaveInStore(landedAhead);
            const left = new Set(landedAhead);
            check = check.filter((p) => !left.has(p));
          }
          // Released pieces have almost always landed: read them plainly (a script would copy every value once
          // more inside Redis); only those that did not land (their holder failed) are claimed.
          const before = check.length;
          const { missing, unanswered } = await this.#host.lookup.fromStore(check, signal, leaseMs / 2);
          check = [...missing, ...unanswered];
          this.counters.fleetWaits += before - check.length;
        }
        outcome = check.length > 0 ? await this.#claimOrRead(check, signal) : { claimed: [], busy: [], landed: 0 };
      } catch (e) {
        pending = pending.filter((p) => !p.flight!.persisted); // what was read before the store failed is done
        // A store that is only slow is asked again while it still answers within a lease (the next call gets twice
        // the time): a whole fleet woken by one release reads the same values at once, a starved machine serves
        // them late, and fetching them from the origin is what the fleet exists to avoid. A failed or skipped
        // store is not: fetch what is left.
        if (++timeouts < CLAIM_ATTEMPTS && (await answersLate(e, leaseMs))) continue;
        break;
      }
      timeouts = 0;
      this.counters.fleetWaits += outcome.landed;
      // Its holder gave up or died: fetch what a read wants. Read-ahead nobody reads yet is let go instead: it was a
      // guess, and at the end of a scan its holder's close() aborted it, as this process's own close would.
      const guesses: Piece[] = [];
      const wanted: Piece[] = [];
      for (const p of outcome.claimed) (onlyReadAhead(p) ? guesses : wanted).push(p);
      if (guesses.length > 0) this.#dropGuesses(guesses);
      fallback(wanted);
      pending = [...pending.filter((p) => !checked.has(p)), ...outcome.busy];
    }
    if (!signal.aborted) fallback(pending);
    await Promise.all(fetches);
    signal.throwIfAborted();
  }

  /**
   * Ends the flights of read-ahead pieces another process released (counted in `aheadDropped`): they leave the
   * table first, so no read joins a flight that fails; a read that wants one later finds it in the store (or, if it
   * never landed, fetches it). Their read-ahead ends; it ignores the failure.
   */
  #leaveInStore(pieces: Piece[]): void {
    this.counters.aheadDropped += pieces.length;
    for (const p of pieces) {
      this.#host.flights.forget(p);
      p.flight!.reject(new DOMException('read-ahead: its holder in another process landed it; left in the store', 'AbortError'));
    }
  }

  /** Lets read-ahead pieces go: their leases are released, their flights fail (read-ahead ignores it). */
  #dropGuesses(pieces: Piece[]): void {
    this.counters.aheadDropped += pieces.length;
    release(this.coordinator, pieces.map((p) => p.key));
    for (const p of pieces) p.flight!.reject(new DOMException('read-ahead let go: its holder in another process gave up', 'AbortError'));
  }

  /**
   * One round trip where the store can (`lookupAndClaim`): for each piece, its value if it has landed (the flight
   * resolves from it), else this reader's lease on it (`claimed`), else `busy`. Without it: a claim, then a lookup
   * of what the claim found landed.
   */
  async #claimOrRead(pieces: Piece[], signal: AbortSignal): Promise<FleetOutcome> {
    const { coordinator, leaseMs } = this;
    const host = this.#host;
    signal.throwIfAborted();
    const keys = pieces.map((p) => p.key);
    const outcome: FleetOutcome = { claimed: [], busy: [], landed: 0 };
    if (coordinator.lookupAndClaim) {
      const expectedBytes = pieces.map((p) => p.range.end - p.range.start);
      let results: LookupClaimResult[];
      try {
        results = await coordinator.lookupAndClaim(keys, leaseMs, { expectedBytes });
      } catch (e) {
        // A lookup that timed out may still answer, and its answer holds the leases it took: asking again would
        // find them busy (held by this very reader). On a busy machine that answer is worth half a lease.
        const late = await lateAnswer(e, leaseMs / 2);
        if (!Array.isArray(late)) throw e;
        results = late as LookupClaimResult[];
      }
      if (!Array.isArray(results) || results.length !== pieces.length) throw new Error('lease lookup returned the wrong number of results');
      const corrupt: string[] = [];
      const landed: Piece[] = [];
      pieces.forEach((p, i) => {
        const r = results[i];
        if (r === 'claimed') outcome.claimed.push(p);
        else if (r === 'busy') outcome.busy.push(p);
        else if (r === 'landed') landed.push(p);
        else if (host.lookup.accept(p, r ?? null, corrupt)) {
          host.flights.resolveStored(p, r!);
          outcome.landed++;
        } else {
          outcome.claimed.push(p); // a value of the wrong length: fetched here (without a lease; a small overlap)
        }
      });
      host.lookup.deleteCorrupt(corrupt);
      await this.#readLanded(landed, outcome, signal);
      return outcome;
    }
    const claims: ClaimResult[] = await coordinator.claim(keys, leaseMs);
    if (!Array.isArray(claims) || claims.length !== pieces.length) throw new Error('lease claim returned the wrong number of results');
    const landed = pieces.filter((_, i) => claims[i] === 'landed');
    outcome.claimed = pieces.filter((_, i) => claims[i] === 'claimed');
    outcome.busy = pieces.filter((_, i) => claims[i] === 'busy');
    await this.#readLanded(landed, outcome, signal);
    return outcome;
  }

  /**
   * Reads pieces a claim found landed (a busy store gets half a lease to answer). One whose value has gone is
   * fetched here, without a lease (a small overlap); one the store did not answer for is waited on as if busy, and
   * read again after the next wait: its value is there, and a slow store is no reason to go to the origin (a
   * failed one fails the next claim, and the wait gives up).
   */
  async #readLanded(landed: Piece[], outcome: FleetOutcome, signal: AbortSignal): Promise<void> {
    const { missing, unanswered } = await this.#host.lookup.fromStore(landed, signal, this.leaseMs / 2);
    outcome.landed += landed.length - missing.length - unanswered.length;
    outcome.claimed.push(...missing);
    outcome.busy.push(...unanswered);
  }
}

/** Whether only read-ahead wants `p` now: no read takes its bytes, and no batch that joined its flight may. */
function onlyReadAhead(p: Piece): boolean {
  const f = p.flight;
  return p.ahead && f !== undefined && f.consumers === 0 && f.uncountedJoins === 0;
}

/** Round-trip estimates that let a store's time budgets follow a busy but healthy Redis (RFC 6298). */

/**
 * Smoothed round-trip time and its variation, as TCP estimates its retransmission timeout (RFC 6298): on a
 * machine so busy that a healthy Redis answers small calls in 200 ms instead of 0.2, the timeout follows
 * (`srtt + 4 × rttvar`), so such a Redis is not declared failed and the fleet does not fall back to the origin.
 * A stalled Redis answers nothing, gives no samples, and is caught within the last estimate (capped).
 */
export class RoundTripEstimator {
  #srtt: number | undefined;
  #rttvar = 0;
  /** Doublings since the last sample (RFC 6298, section 5.5). */
  #backoffs = 0;

  /** A call timed out: the estimate doubles until the next sample (at most twice: a stall is still caught). */
  backoff(): void {
    this.#backoffs = Math.min(this.#backoffs + 1, 2);
  }

  /** Records the round trip, in ms, of a call that succeeded. */
  sample(ms: number): void {
    if (!(ms >= 0)) return;
    this.#backoffs = 0;
    if (this.#srtt === undefined) {
      this.#srtt = ms;
      this.#rttvar = ms / 2;
      return;
    }
    this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - ms);
    this.#srtt = 0.875 * this.#srtt + 0.125 * ms;
  }

  /**
   * `srtt + 4 × rttvar` (`initial` before the first sample), at least `floor`, doubled for each timeout since the
   * last sample, at most `cap`.
   */
  timeoutMs(floor: number, cap: number, initial: number): number {
    const estimate = this.#srtt === undefined ? initial : this.#srtt + 4 * this.#rttvar;
    return Math.min(cap, Math.max(floor, estimate) * 2 ** this.#backoffs);
  }
}

const MiB = 1024 * 1024;
/** Calls that move less than this are round-trip samples (bigger ones mostly measure the transfer). */
const SMALL_CALL_BYTES = 256 * 1024;
/** The adaptive base budget never exceeds this many times `commandTimeoutMs`: a stall is still caught. */
export const MAX_ADAPTIVE_FACTOR = 20;
/** The adaptive per-MiB allowance never exceeds this many times `timeoutPerMiBMs` (1 MiB/s by default). */
const MAX_ADAPTIVE_PER_MIB_FACTOR = 10;

/**
 * A store's time budgets: `commandTimeoutMs` per call plus `timeoutPerMiBMs` per MiB moved, each raised where
 * recent calls show a healthy but slow Redis (small calls: round trips; big calls: transfer time per MiB).
 */
export class CallBudgets {
  /** Round trips of recent small calls: the base budget follows a busy but healthy Redis. */
  #rtt = new RoundTripEstimator();
  /** Transfer time per MiB of recent big calls: the per-MiB allowance follows a Redis shared by many readers. */
  #msPerMiB = new RoundTripEstimator();

  constructor(readonly commandTimeoutMs: number, readonly timeoutPerMiBMs: number) {}

  /** The base budget now: `commandTimeoutMs`, or more when recent calls show a healthy but slow Redis. */
  base(): number {
    return this.#rtt.timeoutMs(this.commandTimeoutMs, this.commandTimeoutMs * MAX_ADAPTIVE_FACTOR, this.commandTimeoutMs);
  }

  /**
   * The budget, in ms, of a call that moves `bytes` of values: the base, plus `timeoutPerMiBMs` per MiB, or more
   * where recent big calls show a healthy Redis sharing its output with many clients (each gets a slice).
   */
  forBytes(bytes: number): number {
    const perMiB = this.timeoutPerMiBMs === 0 ? 0 : this.#msPerMiB.timeoutMs(this.timeoutPerMiBMs, this.timeoutPerMiBMs * MAX_ADAPTIVE_PER_MIB_FACTOR, 0);
    return this.base() + (perMiB * bytes) / MiB;
  }

  /** Records how long a call that moved `bytes` took to answer, in ms. */
  sample(bytes: number, elapsed: number): void {
    if (bytes < SMALL_CALL_BYTES) this.#rtt.sample(elapsed);
    else this.#msPerMiB.sample((elapsed * MiB) / bytes);
  }

  /** A call that moved `bytes` timed out: its estimate backs off. */
  backoff(bytes: number): void {
    (bytes < SMALL_CALL_BYTES ? this.#rtt : this.#msPerMiB).backoff();
  }
}

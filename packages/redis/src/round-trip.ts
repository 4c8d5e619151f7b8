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

import t from 'tap';
import { RoundTripEstimator } from '../src/round-trip.js';

t.test('the round-trip estimator follows RFC 6298: srtt + 4 rttvar, floored, backed off on timeouts, capped', async (t) => {
  const rtt = new RoundTripEstimator();
  t.equal(rtt.timeoutMs(250, 5000, 250), 250, 'before any sample: the initial value');
  rtt.sample(10);
  t.equal(rtt.timeoutMs(250, 5000, 250), 250, 'a fast Redis: the floor (10 + 4 * 5 = 30 < 250)');
  for (let i = 0; i < 50; i++) rtt.sample(400);
  const busy = rtt.timeoutMs(250, 5000, 250);
  t.ok(busy > 400 && busy < 1000, `a busy but healthy Redis (400 ms round trips): the budget follows (${busy.toFixed(0)} ms)`);
  rtt.backoff();
  t.equal(rtt.timeoutMs(250, 5000, 250), 2 * busy, 'a timeout doubles it');
  rtt.backoff();
  rtt.backoff();
  rtt.backoff();
  rtt.backoff();
  t.equal(rtt.timeoutMs(250, 1e9, 250), 4 * busy, 'at most two doublings');
  t.equal(rtt.timeoutMs(250, 1000, 250), 1000, 'and never past the cap');
  rtt.sample(400);
  t.ok(rtt.timeoutMs(250, 5000, 250) < 1000, 'a success ends the back-off');
  rtt.sample(Number.NaN);
  rtt.sample(-1);
  t.ok(Number.isFinite(rtt.timeoutMs(250, 5000, 250)), 'nonsense samples are ignored');
});

import t from 'tap';
import { responsiveTimeout } from '@rangecache/redis';
import { withResponsiveTimeout } from '../src/responsive-timeout.js';

const busy = (ms: number): void => { const end = performance.now() + ms; while (performance.now() < end); };
// The timer is unref'd (it must not keep a process alive), so the test keeps itself alive.
const keepAlive = setInterval(() => {}, 1000);
t.teardown(() => clearInterval(keepAlive));

t.test('fires after the time when the loop is free', async (t) => {
  const t0 = performance.now();
  await new Promise<void>((resolve) => responsiveTimeout(120, resolve));
  const ms = performance.now() - t0;
  t.ok(ms >= 115 && ms < 5000, `fired after ${ms.toFixed(0)} ms (never early; late only by as much as a loaded machine adds)`);
});

t.test('a stretch of our own blocking counts as one tick only', async (t) => {
  let fired = false;
  const cancel = responsiveTimeout(500, () => { fired = true; });
  busy(1500); // three times the timeout, all of it our own fault
  await new Promise((r) => setTimeout(r, 60));
  t.equal(fired, false, 'not blamed on the other side');
  const deadline = performance.now() + 10_000;
  while (!fired && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(fired, true, 'fires once enough responsive time passed');
  cancel();
});

t.test('cancel stops it', async (t) => {
  let fired = false;
  const cancel = responsiveTimeout(30, () => { fired = true; });
  cancel();
  await new Promise((r) => setTimeout(r, 80));
  t.equal(fired, false);
});

t.test('withResponsiveTimeout: settles like the work, or rejects with the timeout error', async (t) => {
  t.equal(await withResponsiveTimeout(Promise.resolve(7), 100, () => new Error('late')), 7, 'a value passes through');
  await t.rejects(withResponsiveTimeout(Promise.reject(new Error('own')), 100, () => new Error('late')), /own/, 'so does a failure');
  const never = new Promise<never>(() => {});
  await t.rejects(withResponsiveTimeout(never, 50, () => new Error('no answer in 50 ms')), /no answer in 50 ms/, 'a hang becomes the timeout error');
  let late: (v: number) => void = () => {};
  const slow = new Promise<number>((r) => { late = r; });
  const raced = withResponsiveTimeout(slow, 10_000, () => new Error('late'));
  setTimeout(() => late(3), 20);
  t.equal(await raced, 3, 'an answer before the deadline wins');
  // A rejection after the deadline must not become an unhandled rejection (tap would fail the file).
  let fail: (e: Error) => void = () => {};
  const failsLate = new Promise<never>((_, r) => { fail = r; });
  await t.rejects(withResponsiveTimeout(failsLate, 20, () => new Error('deadline')), /deadline/);
  fail(new Error('after the deadline'));
  await new Promise((r) => setTimeout(r, 20));
});

import t from 'tap';
import { responsiveTimeout } from '@rangecache/core';

const busy = (ms: number): void => { const end = performance.now() + ms; while (performance.now() < end); };
// The timer is unref'd (it must not keep a process alive), so the test keeps itself alive.
const keepAlive = setInterval(() => {}, 1000);
t.teardown(() => clearInterval(keepAlive));

t.test('fires after the time when the loop is free', async (t) => {
  const t0 = performance.now();
  await new Promise<void>((resolve) => responsiveTimeout(120, resolve));
  const ms = performance.now() - t0;
  t.ok(ms >= 115 && ms < 400, `fired after ${ms.toFixed(0)} ms`);
});

t.test('a stretch of our own blocking counts as one tick only', async (t) => {
  let fired = false;
  const cancel = responsiveTimeout(200, () => { fired = true; });
  busy(600); // three times the timeout, all of it our own fault
  await new Promise((r) => setTimeout(r, 60));
  t.equal(fired, false, 'not blamed on the other side');
  await new Promise((r) => setTimeout(r, 300));
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

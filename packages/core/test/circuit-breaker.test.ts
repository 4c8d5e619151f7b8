import t from 'tap';

t.test('the circuit breaker judges a timed-out call by whether it completes after all', async (t) => {
  const { CircuitBreaker } = await import('../src/circuit-breaker.js');
  const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 60_000 });
  const timeout = (completed: Promise<boolean>): Error => Object.assign(new Error('timed out'), { code: 'ERR_RANGECACHE_STORE_TIMEOUT', completed });
  // Slow but healthy: the calls time out, then their replies come.
  for (let i = 0; i < 5; i++) await t.rejects(breaker.run('get', () => Promise.reject(timeout(Promise.resolve(true)))));
  await new Promise((r) => setTimeout(r, 20));
  t.equal(breaker.state, 'closed', 'five timeouts that completed late do not open it');
  // Stalled: the calls never complete; each counts as failed after the grace period.
  const never = new Promise<boolean>(() => {});
  for (let i = 0; i < 2; i++) await t.rejects(breaker.run('get', () => Promise.reject(timeout(never))));
  t.equal(breaker.state, 'closed', 'not judged yet');
  await new Promise((r) => setTimeout(r, 2300));
  t.equal(breaker.state, 'open', 'judged failed after the grace period: the circuit opens');
  await t.rejects(breaker.run('get', () => Promise.resolve(1)), /circuit open/);
});

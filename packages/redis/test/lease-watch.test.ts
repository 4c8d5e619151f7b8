/** LeaseWatch, on its own with a clock the test moves: when a watched lease may be taken over. */
import t from 'tap';
import { LEASE_CHECKS_BEFORE_TAKEOVER, LeaseWatch } from '../src/lease-watch.js';

t.test('a version seen for a lease period over enough answers may be taken over; a new version starts again', async (t) => {
  let now = 1000;
  const watch = new LeaseWatch(() => now);
  t.equal(watch.staleVersions(['a', 'b'], 100), undefined, 'nothing watched: nothing to take over');
  watch.saw('a', 7);
  now += 500;
  watch.saw('a', 7);
  t.equal(watch.staleVersions(['a'], 100), undefined, `two answers, however far apart, are not enough (${LEASE_CHECKS_BEFORE_TAKEOVER} needed)`);
  watch.saw('a', 7);
  t.same(watch.staleVersions(['b', 'a'], 100), ['', '7'], 'three answers over more than a lease: a\'s version, in key order');
  t.equal(watch.staleVersions(['a'], 600), undefined, 'but not when the lease is longer than the watch');
  watch.saw('a', 8);
  watch.saw('a', 8);
  watch.saw('a', 8);
  t.equal(watch.staleVersions(['a'], 100), undefined, 'an extension (a new version) starts the watch again');
  now += 100;
  t.same(watch.staleVersions(['a'], 100), ['8'], 'a lease later');
  watch.forget('a');
  t.equal(watch.staleVersions(['a'], 100), undefined, 'forgotten once claimed or landed');
  for (let i = 0; i < 3; i++) watch.saw('own', 0);
  now += 1000;
  t.equal(watch.staleVersions(['own'], 100), undefined, 'version 0 (own or unversioned lease) is never taken over');
});

t.test('the watch is bounded: the oldest keys are forgotten first', async (t) => {
  let now = 0;
  const watch = new LeaseWatch(() => now);
  for (let i = 0; i < 20_000; i++) for (let n = 0; n < 3; n++) watch.saw(`k${i}`, 1);
  now = 1000;
  t.same(watch.staleVersions(['k0', 'k19999'], 10), ['', '1'], 'of 20000 keys, the newest is still watched and the oldest was forgotten');
});

// Every error class the package exports is a RangecacheError, and has a static is() type guard that checks the
// code, so that it also recognises errors made by another installed copy of @rangecache/core. No Redis needed.
import t from 'tap';
import type { Test } from 'tap';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as core from '@rangecache/core';
import { AccessDeniedError, CircuitOpenError, ConfigError, InvalidPathError, InvalidRangeError, ObjectNotFoundError, OriginError, OriginTimeoutError, RangecacheError, StoreError, StoreTimeoutError, StoreUnavailableError, UnexpectedEncodingError, VersionChangedError } from '@rangecache/core';

type Core = typeof core;
interface Guard {
  readonly name: string;
  is(e: unknown): boolean;
}

/** One exported error class: how to make one (with either copy of the package), its code, and which guards accept it. */
interface Case {
  name: keyof Core & string;
  code: string;
  make(m: Core): Error;
  /** The guards besides RangecacheError.is that accept it: its own class's, then its parents'. */
  accepted: readonly Guard[];
}

const cases: readonly Case[] = [
  { name: 'ObjectNotFoundError', code: 'ERR_RANGECACHE_NOT_FOUND', make: (m) => new m.ObjectNotFoundError({ path: '/x', backend: 'file' }), accepted: [ObjectNotFoundError] },
  { name: 'AccessDeniedError', code: 'ERR_RANGECACHE_ACCESS_DENIED', make: (m) => new m.AccessDeniedError({ path: 'https://h/x', backend: 'http', status: 403 }), accepted: [AccessDeniedError] },
  { name: 'VersionChangedError', code: 'ERR_RANGECACHE_VERSION_CHANGED', make: (m) => new m.VersionChangedError({ path: '/x', expected: 'a', actual: 'b' }), accepted: [VersionChangedError] },
  { name: 'OriginError', code: 'ERR_RANGECACHE_ORIGIN', make: (m) => new m.OriginError('reset', { path: '/x', backend: 'http', status: 503 }), accepted: [OriginError] },
  {
    name: 'UnexpectedEncodingError', code: 'ERR_RANGECACHE_ENCODING',
    make: (m) => new m.UnexpectedEncodingError({ path: '/x', backend: 'http', status: 200, encoding: 'gzip' }), accepted: [UnexpectedEncodingError, OriginError],
  },
  {
    name: 'OriginTimeoutError', code: 'ERR_RANGECACHE_ORIGIN_TIMEOUT',
    make: (m) => new m.OriginTimeoutError({ path: '/x', backend: 's3', timeoutMs: 1000 }), accepted: [OriginTimeoutError, OriginError],
  },
  { name: 'InvalidRangeError', code: 'ERR_RANGECACHE_RANGE', make: (m) => new m.InvalidRangeError('/x', { start: 5, end: 1 }, 'end is before start'), accepted: [InvalidRangeError] },
  { name: 'InvalidPathError', code: 'ERR_RANGECACHE_PATH', make: (m) => new m.InvalidPathError('gs://b/k', 'no fetcher for the scheme "gs"'), accepted: [InvalidPathError] },
  { name: 'ConfigError', code: 'ERR_RANGECACHE_CONFIG', make: (m) => new m.ConfigError('options.ttl must be positive'), accepted: [ConfigError] },
  { name: 'StoreError', code: 'ERR_RANGECACHE_STORE', make: (m) => m.StoreError.from('MGET', new Error('ECONNRESET')), accepted: [StoreError] },
  { name: 'StoreUnavailableError', code: 'ERR_RANGECACHE_STORE_UNAVAILABLE', make: (m) => new m.StoreUnavailableError('MGET'), accepted: [StoreUnavailableError, StoreError] },
  { name: 'StoreTimeoutError', code: 'ERR_RANGECACHE_STORE_TIMEOUT', make: (m) => new m.StoreTimeoutError('MGET', 250), accepted: [StoreTimeoutError, StoreError] },
  { name: 'CircuitOpenError', code: 'ERR_RANGECACHE_CIRCUIT_OPEN', make: (m) => new m.CircuitOpenError('getMany', 4000), accepted: [CircuitOpenError] },
];

const guards: readonly Guard[] = [
  RangecacheError, ObjectNotFoundError, AccessDeniedError, VersionChangedError, OriginError, UnexpectedEncodingError, OriginTimeoutError,
  InvalidRangeError, InvalidPathError, ConfigError, StoreError, StoreUnavailableError, StoreTimeoutError, CircuitOpenError,
];

/** An error as another copy of the package would make it, seen from this one: an Error with the same code and name. */
function lookalike(code: string, name: string): Error {
  return Object.assign(new Error(`${name} from another copy`), { name, code });
}

/** Asserts which guards accept `e`: RangecacheError's and exactly those in `accepted`. */
function checkGuards(t: Test, e: unknown, accepted: readonly Guard[], what: string): void {
  for (const g of guards) {
    const expected = g === RangecacheError || accepted.includes(g);
    t.equal(g.is(e), expected, `${g.name}.is(${what}) is ${expected}`);
  }
}

t.test('every error class the package exports is a RangecacheError with its own is()', async (t) => {
  const exported = Object.entries(core)
    .filter(([, v]) => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof Error)
    .map(([k]) => k)
    .sort();
  t.same(exported, ['RangecacheError', ...cases.map((c) => c.name)].sort(), 'the error classes exported (a new one needs a case here)');
  for (const c of cases) {
    const e = c.make(core);
    t.ok(e instanceof RangecacheError, `a ${c.name} is instanceof RangecacheError`);
    t.ok(e instanceof (core[c.name] as abstract new (...args: never[]) => unknown), `a ${c.name} is instanceof ${c.name}`);
    t.ok(Object.hasOwn(core[c.name] as object, 'is'), `${c.name} has its own static is()`);
    t.equal((e as { code?: unknown }).code, c.code, `${c.name}'s code`);
    t.equal(e.name, c.name, `${c.name}'s name`);
  }
});

t.test('each guard accepts its own class and its subclasses, and nothing else', async (t) => {
  for (const c of cases) checkGuards(t, c.make(core), c.accepted, `a ${c.name}`);

  // Subclasses a caller defines.
  class MyNotFound extends ObjectNotFoundError {}
  class MyTimeout extends StoreTimeoutError {}
  class MyRange extends InvalidRangeError {}
  class MyConfig extends ConfigError {}
  checkGuards(t, new MyNotFound({ path: '/x' }), [ObjectNotFoundError], 'a subclass of ObjectNotFoundError');
  checkGuards(t, new MyTimeout('SET', 10), [StoreTimeoutError, StoreError], 'a subclass of StoreTimeoutError');
  checkGuards(t, new MyRange('/x', { start: -1, end: 0 }, 'negative'), [InvalidRangeError], 'a subclass of InvalidRangeError');
  checkGuards(t, new MyConfig('bad'), [ConfigError], 'a subclass of ConfigError');
  // A subclass with a code of its own is still accepted by its parents' guards.
  class Mine extends OriginError {
    override readonly code = 'MY_ORIGIN_FAILED';
  }
  checkGuards(t, new Mine('failed', { path: '/x' }), [OriginError], 'a subclass of OriginError with its own code');
  class Custom extends RangecacheError {
    constructor() { super('ERR_RANGECACHE_CUSTOM', 'custom'); }
  }
  checkGuards(t, new Custom(), [], 'a direct subclass of RangecacheError');
  t.ok(new MyRange('/x', { start: -1, end: 0 }, 'negative') instanceof RangecacheError, 'a subclass of InvalidRangeError is instanceof RangecacheError');
});

t.test('each guard accepts a same-code error from another copy of the package', async (t) => {
  for (const c of cases) checkGuards(t, lookalike(c.code, c.name), c.accepted, `an Error with code ${c.code}`);

  // A real second copy: the built package copied to a directory of its own, so its classes are other classes.
  const pkg = fileURLToPath(new URL('../', import.meta.url));
  const dir = await mkdtemp(join(tmpdir(), 'rangecache-second-copy-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(join(pkg, 'dist'), join(dir, 'dist'), { recursive: true });
  await cp(join(pkg, 'package.json'), join(dir, 'package.json'));
  await symlink(join(pkg, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const other = (await import(pathToFileURL(join(dir, 'dist', 'index.js')).href)) as Core;
  t.not(other.RangecacheError, RangecacheError, 'the second copy has classes of its own');
  for (const c of cases) {
    const e = c.make(other);
    t.notOk(e instanceof (core[c.name] as abstract new (...args: never[]) => unknown), `instanceof does not see across copies (${c.name}): is() is what does`);
    checkGuards(t, e, c.accepted, `a ${c.name} of the second copy`);
  }
});

t.test('guards reject other errors and non-errors', async (t) => {
  const others: [string, unknown][] = [
    ['an Error', new Error('x')],
    ['a TypeError', new TypeError('x')],
    ['a RangeError', new RangeError('x')],
    ['an AbortError', new DOMException('aborted', 'AbortError')],
    ['an Error with a foreign code', Object.assign(new Error('x'), { code: 'ECONNRESET' })],
    ['an Error with a numeric code', Object.assign(new Error('x'), { code: 404 })],
    ['an Error whose code only contains the prefix', Object.assign(new Error('x'), { code: 'X_ERR_RANGECACHE_NOT_FOUND' })],
    ['a plain object with a rangecache code', { name: 'ObjectNotFoundError', code: 'ERR_RANGECACHE_NOT_FOUND', message: 'x' }],
    ['the code as a string', 'ERR_RANGECACHE_NOT_FOUND'],
    ['null', null],
    ['undefined', undefined],
    ['a number', 0],
  ];
  for (const [what, e] of others) {
    for (const g of guards) t.notOk(g.is(e), `${g.name}.is(${what}) is false`);
    t.notOk(e instanceof RangecacheError, `${what} is not instanceof RangecacheError`);
  }
});

t.test('instanceof: built-in parents are kept, and no class claims another\'s instances', async (t) => {
  t.ok(new InvalidRangeError('/x', { start: 1, end: 0 }, 'r') instanceof RangeError, 'an InvalidRangeError is a RangeError');
  t.ok(new InvalidPathError('x', 'r') instanceof TypeError, 'an InvalidPathError is a TypeError');
  t.ok(new ConfigError('r') instanceof TypeError, 'a ConfigError is a TypeError');
  for (const c of cases) {
    const e = c.make(core);
    for (const other of cases) {
      const cls = core[other.name] as abstract new (...args: never[]) => unknown;
      const expected = other.name === c.name || c.accepted.some((g) => g.name === other.name);
      t.equal(e instanceof cls, expected, `a ${c.name} is ${expected ? '' : 'not '}instanceof ${other.name}`);
    }
  }
});

t.test('fields, codes and names are as before', async (t) => {
  const settled = Promise.resolve();
  const completed = Promise.resolve(true);
  const timeout = new StoreTimeoutError('MGET', 250, settled, completed, Promise.resolve(['a']));
  t.match(timeout, { name: 'StoreTimeoutError', code: 'ERR_RANGECACHE_STORE_TIMEOUT', operation: 'MGET', ms: 250, message: 'redis MGET did not answer within 250 ms' });
  t.equal(timeout.settled, settled);
  t.equal(timeout.completed, completed);
  const mapped = timeout.mapAnswer((a) => (a as string[]).length);
  t.ok(mapped instanceof StoreTimeoutError && mapped.ms === 250 && mapped.operation === 'MGET', 'mapAnswer keeps the timeout');
  t.equal(await mapped.answer, 1);
  const cause = new Error('ECONNRESET');
  const wrapped = StoreError.from('SCAN', cause);
  t.match(wrapped, { name: 'StoreError', code: 'ERR_RANGECACHE_STORE', operation: 'SCAN', message: 'redis SCAN failed: ECONNRESET' });
  t.equal(wrapped.cause, cause);
  t.equal(StoreError.from('SCAN', timeout), timeout, 'a StoreError passes through StoreError.from');
  t.match(new StoreUnavailableError('SET'), { name: 'StoreUnavailableError', code: 'ERR_RANGECACHE_STORE_UNAVAILABLE', operation: 'SET' });
  t.match(new CircuitOpenError('getMany', 4000), { name: 'CircuitOpenError', code: 'ERR_RANGECACHE_CIRCUIT_OPEN', message: /store getMany skipped: circuit open for another 4000 ms/ });
  t.equal(new StoreUnavailableError('SET').path, undefined, 'a store error is about no object path');
  const notFound = new ObjectNotFoundError({ path: '/x', backend: 'file', status: 404 });
  t.match(notFound, { name: 'ObjectNotFoundError', code: 'ERR_RANGECACHE_NOT_FOUND', path: '/x', backend: 'file', status: 404 });
  t.match(new InvalidPathError('gs://b/k', 'r'), { name: 'InvalidPathError', code: 'ERR_RANGECACHE_PATH', path: 'gs://b/k', message: 'invalid path "gs://b/k": r' });
  t.match(new ConfigError('bad option'), { name: 'ConfigError', code: 'ERR_RANGECACHE_CONFIG', message: 'bad option' });
  t.match(new InvalidRangeError('/x', { start: 5, end: 1 }, 'r', { size: 3 }), { name: 'InvalidRangeError', code: 'ERR_RANGECACHE_RANGE', path: '/x', start: 5, end: 1, size: 3 });
});

t.test('guards narrow to their class, without casts', async (t) => {
  const errors: unknown[] = [new StoreTimeoutError('MGET', 250), new InvalidRangeError('/x', { start: 5, end: 1 }, 'r'), new OriginTimeoutError({ path: '/x', timeoutMs: 9 })];
  const seen: string[] = [];
  for (const e of errors) {
    if (StoreTimeoutError.is(e)) {
      const ms: number = e.ms;
      const operation: string = e.operation;
      seen.push(`${operation} ${ms}`);
    }
    if (InvalidRangeError.is(e)) seen.push(`${e.path} ${String(e.start)}`);
    if (OriginError.is(e) && OriginTimeoutError.is(e)) seen.push(`${e.path} ${e.timeoutMs}`);
    if (RangecacheError.is(e)) {
      const code: string = e.code;
      seen.push(code);
    }
  }
  t.same(seen, ['MGET 250', 'ERR_RANGECACHE_STORE_TIMEOUT', '/x 5', 'ERR_RANGECACHE_RANGE', '/x 9', 'ERR_RANGECACHE_ORIGIN_TIMEOUT']);
  // The built-in-parented classes are RangecacheErrors to the type checker too.
  const asBase: RangecacheError[] = [new InvalidRangeError('/x', { start: 5, end: 1 }, 'r'), new InvalidPathError('x', 'r'), new ConfigError('r')];
  t.equal(asBase.length, 3);
  // instanceof still narrows to the subclass.
  const e: unknown = errors[0];
  if (e instanceof StoreTimeoutError) t.equal(e.ms, 250);
  else t.fail('instanceof StoreTimeoutError');
});

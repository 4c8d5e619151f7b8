import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AsyncCachingReader, FileFetcher, InvalidRangeError, MemoryStore, RedisStore, VersionChangedError } from '@rangecache/core';
import { CountingFetcher, fetcherConformance, pseudoRandomBytes, startRedis, tempDir } from '@rangecache/test-support';

const dir = await tempDir();
const redis = await startRedis();
const client = await redis.client();
t.teardown(async () => { await redis.stop(); await dir.remove(); });
const fetcher = new CountingFetcher(new FileFetcher());
let n = 0;

fetcherConformance(t, {
  fetcher,
  // Objects are replaced atomically (write, then rename), as FileFetcher's docs ask.
  async put(name, bytes) {
    const path = join(dir.path, name);
    const tmp = `${path}.tmp-${++n}`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
    return path;
  },
  missing: (name) => join(dir.path, 'missing', name),
  originGets: () => fetcher.fetches.length,
  store: () => new RedisStore({ client }),
});

// Issue 8: a file rewritten in place during a read returned bytes of neither version. A child process rewrites the
// file in place (same size, other content, 64 KiB writes from the end to the start, so that a read overlapping a
// rewrite crosses it) again and again, while this process reads the whole file. Every read is one complete version
// or a VersionChangedError. The old code returned mixtures in about a third of the reads that overlapped a rewrite.
t.test('a file rewritten in place during reads: one whole version or VersionChangedError, never a mixture', async (t) => {
  const size = 4 << 20;
  const v1 = pseudoRandomBytes(size, 'inplace-v1');
  const v2 = pseudoRandomBytes(size, 'inplace-v2');
  const path = join(dir.path, 'inplace.bin');
  await writeFile(join(dir.path, 'inplace.v1'), v1);
  await writeFile(join(dir.path, 'inplace.v2'), v2);
  await writeFile(path, v1);
  const writer = spawn(process.execPath, ['-e', `
    const fs = require('node:fs');
    const [target, a, b] = process.argv.slice(1);
    const versions = [fs.readFileSync(a), fs.readFileSync(b)];
    const fd = fs.openSync(target, 'r+');
    const pause = new Int32Array(new SharedArrayBuffer(4));
    process.stdout.write('ready\\n');
    for (let i = 1; ; i++) {
      const v = versions[i % 2];
      for (let off = v.length - 65536; off >= 0; off -= 65536) fs.writeSync(fd, v, off, 65536, off);
      Atomics.wait(pause, 0, 0, Math.random() * 4); // the file rests whole for a moment, as between real rewrites
    }
  `, path, join(dir.path, 'inplace.v1'), join(dir.path, 'inplace.v2')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(writer, 'exit');
  t.teardown(async () => { if (writer.exitCode === null && writer.signalCode === null) { writer.kill('SIGKILL'); await exited; } });
  await once(writer.stdout!, 'data');

  const plain = new FileFetcher();
  const outcome = { v1: 0, v2: 0, changed: 0, mixed: 0, other: [] as string[] };
  const judge = (got: Uint8Array): void => {
    const b = Buffer.from(got.buffer, got.byteOffset, got.byteLength);
    if (b.equals(v1)) outcome.v1++;
    else if (b.equals(v2)) outcome.v2++;
    else {
      outcome.mixed++;
      if (outcome.mixed <= 3) t.comment(`mixed read: ${b.byteLength} bytes`);
    }
  };
  // Read until 30 reads overlapped a rewrite (the file's version differs before and after the read), or give up.
  let overlaps = 0;
  for (let i = 0; i < 3000 && overlaps < 30; i++) {
    const meta = await plain.stat(path);
    try {
      judge(await plain.fetch(path, { start: 0, end: size }, { expect: meta }));
    } catch (e) {
      if (e instanceof VersionChangedError) outcome.changed++;
      else outcome.other.push(String(e));
    }
    if ((await plain.stat(path)).version !== meta.version) overlaps++;
  }
  t.equal(overlaps, 30, '30 reads overlapped a rewrite');

  // Through the reader too: what it returns (and caches) is one version.
  const reader = new AsyncCachingReader({ fetcher: plain, store: new MemoryStore(), blockSize: 1 << 20, metaTtl: 0.001 });
  for (let i = 0; i < 30; i++) {
    try {
      judge(await reader.readRange(path, 0, size));
    } catch (e) {
      if (e instanceof VersionChangedError) outcome.changed++;
      else outcome.other.push(String(e));
    }
  }
  writer.kill('SIGKILL');
  await exited;
  await writeFile(path, v2); // one last rewrite (truncate and write), with nobody else writing
  t.same(Buffer.from(await reader.readRange(path, 0, size)).equals(v2), true, 'after the last rewrite the reader returns it');
  await reader.close();

  t.comment(`reads: ${outcome.v1} v1, ${outcome.v2} v2, ${outcome.changed} VersionChangedError, ${outcome.mixed} mixed, ${outcome.other.length} other`);
  t.equal(outcome.mixed, 0, 'no read returned a mixture of two versions');
  t.same(outcome.other, [], 'no other errors');
  t.ok(outcome.changed > 0, 'the rewrites did overlap reads (the race was exercised)');
  t.ok(outcome.v1 + outcome.v2 > 0, 'some reads completed with a whole version');
});

t.test('a range the fetcher cannot serve is refused before any I/O, and the range is read once', async (t) => {
  const { path, bytes } = await dir.file('once.bin', 10_000);
  const plain = new FileFetcher();
  const meta = await plain.stat(path);
  t.equal(meta.weakVersion, false, 'a file version (size, ns mtime, inode) is strong');
  let reads = 0;
  const flipping = { get start() { return reads++ === 0 ? 4096 : -4096; }, end: 8192 };
  t.same(Buffer.from(await plain.fetch(path, flipping, { expect: meta })), bytes.subarray(4096, 8192), 'the first value of start is the one used');
  t.equal(reads, 1, 'start was read once');
  for (const [start, end] of [[-1, 10], [10, 5], [5, 5], [0, 10_001], [0.5, 10]] as const) {
    await t.rejects(plain.fetch(path, { start, end }, { expect: meta }), InvalidRangeError, `[${start}, ${end})`);
  }
});

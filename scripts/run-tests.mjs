#!/usr/bin/env node
// Runs the tap suite and ends with one line `N passed, N failed`, counting tests: each top-level `t.test()` of
// every file (a test fails when any assertion in it fails), and a file that crashed outside its tests as one
// failed test. tap's assertion totals are printed above it. Exits non-zero when anything failed.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const tapPackage = require.resolve('tap/package.json');
const tapBin = join(dirname(tapPackage), JSON.parse(readFileSync(tapPackage, 'utf8')).bin.tap);
const args = [tapBin, ...process.argv.slice(2)];
// A shared external server (REDIS_URL) must not see parallel files reset its counters under each other. (Two files
// at a time on 2 cores took 10.9 min instead of 15.5, but beside a load loop the 8-process fleet matrix then lost
// leases to store timeouts: 1.5x origin bytes. One at a time, tap's default on 2 cores, until issue 9 holds there.)
if (process.env.REDIS_URL && !args.some((a) => a.startsWith('--jobs') || a === '-j')) args.push('--jobs=1');

const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env } });
let tail = '';
const files = { passed: 0, failed: 0 };
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-1_000_000);
});
child.on('close', (code, signal) => {
  const clean = tail.replace(/\x1b\[[0-9;]*m/g, '');
  // A file's own line comes after its subtests; its subtests are the ok/not ok lines indented by 4.
  let pending = { passed: 0, failed: 0 };
  for (const m of clean.matchAll(/^( {4})?(ok|not ok) \d+ - (.*)$/gm)) {
    if (m[1]) {
      pending[m[2] === 'ok' ? 'passed' : 'failed']++;
      continue;
    }
    if (!/\.test\.ts\b/.test(m[3])) continue;
    files.passed += pending.passed;
    files.failed += pending.failed;
    if (m[2] === 'not ok' && pending.failed === 0) files.failed++; // crashed outside any test
    pending = { passed: 0, failed: 0 };
  }
  const summary = [...clean.matchAll(/# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?[^}]*\}/g)].at(-1);
  const failedAsserts = summary ? Number(summary[3] ?? 0) : NaN;
  if (summary) console.log(`# assertions: ${summary[2]} passed, ${failedAsserts} failed of ${summary[1]}`);
  else console.log('# no tap summary found');
  const failed = files.failed + (code !== 0 && files.failed === 0 ? 1 : 0);
  console.log(`${files.passed} passed, ${failed} failed`);
  process.exit(code === 0 && failed === 0 && summary && files.passed > 0 ? 0 : 1);
});

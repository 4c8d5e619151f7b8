#!/usr/bin/env node
// Runs the tap suite and ends with one line `N passed, N failed`, counting tests: each top-level `t.test()` of
// every file (a test fails when any assertion in it fails), and a file that crashed outside its tests as one
// failed test. tap's assertion totals are printed above it. Exits non-zero when anything failed.
//
// With file arguments, tap runs those files (and any tap flags given). Without, the whole suite runs in two
// phases: first the files that only check what they compute, two at a time; then, one at a time and alone on the
// machine, the files whose outcome depends on timing under load: fleets of processes racing for leases, injected
// stalls and timeouts, clusters (SERIAL below). Two files at a time took the suite from 15.5 to 10.9
// min on 2 cores, but beside a load loop the 8-process fleet matrix then lost leases to store timeouts (1.5x
// origin bytes): such files never share the machine with another test file.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const require = createRequire(import.meta.url);
const tapPackage = require.resolve('tap/package.json');
const tapBin = join(dirname(tapPackage), JSON.parse(readFileSync(tapPackage, 'utf8')).bin.tap);

/** Test files that must run alone: their assertions are about coordination, timeouts or speed under load. */
const SERIAL = [
  /^test\/fleet/, /^test\/faults\//, /^test\/serve-(fleet|faults)/, /cluster\.test\.ts$/,
  /^packages\/redis\/test\/(redis-timeouts|redis-stall|responsive-timeout|redis-coordinator|fail-open)\.test\.ts$/,
  /^packages\/server\/test\/streaming\.test\.ts$/,
];

/** Every `*.test.ts` under `packages/<name>/test` and `test`, relative to the root, sorted. */
function suiteFiles() {
  const found = [];
  const walk = (dir) => {
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.test.ts')) found.push(relative(root, path));
    }
  };
  for (const pkg of readdirSync(join(root, 'packages'))) walk(join(root, 'packages', pkg, 'test'));
  walk(join(root, 'test'));
  return found.sort();
}

/** Runs tap with `args`, echoing its output; resolves with its exit code and the output's tail. */
function runTap(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tapBin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env } });
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-1_000_000);
    });
    child.on('close', (code) => resolve({ code, output: tail.replace(/\x1b\[[0-9;]*m/g, '') }));
  });
}

/** Tests passed and failed in one tap run's output, and its assertion totals. */
function countRun(output) {
  const files = { passed: 0, failed: 0 };
  // A file's own line comes after its subtests; its subtests are the ok/not ok lines indented by 4.
  let pending = { passed: 0, failed: 0 };
  for (const m of output.matchAll(/^( {4})?(ok|not ok) \d+ - (.*)$/gm)) {
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
  const summary = [...output.matchAll(/# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?[^}]*\}/g)].at(-1);
  const asserts = summary ? { total: Number(summary[1]), passed: Number(summary[2]), failed: Number(summary[3] ?? 0) } : undefined;
  return { files, asserts };
}

const listOnly = process.argv.includes('--list'); // print the phases' tap arguments, run nothing
const given = process.argv.slice(2).filter((a) => a !== '--list');
const phases = [];
if (given.some((a) => !a.startsWith('-'))) {
  // A shared external server (REDIS_URL) must not see parallel files reset its counters under each other.
  phases.push(process.env.REDIS_URL && !given.some((a) => a.startsWith('--jobs') || a === '-j') ? [...given, '--jobs=1'] : given);
} else {
  const all = suiteFiles();
  const serial = all.filter((f) => SERIAL.some((re) => re.test(f)));
  const parallel = all.filter((f) => !serial.includes(f));
  phases.push([...given, process.env.REDIS_URL ? '--jobs=1' : '--jobs=2', ...parallel], [...given, '--jobs=1', ...serial]);
}

if (listOnly) {
  for (const [i, args] of phases.entries()) console.log(`phase ${i + 1}: ${args.join(' ')}`);
  process.exit(0);
}
let passed = 0;
let failed = 0;
const asserts = { total: 0, passed: 0, failed: 0 };
let allClean = true;
for (const args of phases) {
  const { code, output } = await runTap(args);
  const run = countRun(output);
  passed += run.files.passed;
  failed += run.files.failed + (code !== 0 && run.files.failed === 0 ? 1 : 0);
  if (!run.asserts) {
    console.log('# no tap summary found');
    allClean = false;
  } else for (const k of ['total', 'passed', 'failed']) asserts[k] += run.asserts[k];
  if (code !== 0) allClean = false;
}
console.log(`# assertions: ${asserts.passed} passed, ${asserts.failed} failed of ${asserts.total}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(allClean && failed === 0 && passed > 0 ? 0 : 1);

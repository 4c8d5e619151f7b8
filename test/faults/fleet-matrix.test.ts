// The full fleet load matrix (issue 9, items 2 and 5), part of `pnpm test:faults`: 8 and 32 real processes x
// 4 read shapes (whole, stream, ranges, loop) x 2 origins (loopback HTTP, bench/s3like-origin.mjs), each process
// reading one object cold through one shared redis-server. Asserted: byte-exact in every process, origin bytes
// <= 1.05 x the object. Recorded only: slowest and alone wallMs, their ratio, the fleet's stats totals.
// The harness and the CI-sized matrix (8 processes x 32 MiB) are in test/fleet-matrix.test.ts.
//
// Object sizes: 32 MiB for 8 processes; 16 MiB for 32 processes (still 16 blocks, and 128 chunks for `ranges`),
// to bound the time on a 2-core machine (32 Node processes hashing and reading from one Redis).
// Override with FLEET_MATRIX_MIB_8 / FLEET_MATRIX_MIB_32.
//
// `pnpm test` also picks up this directory, so the matrix runs only under `pnpm test:faults`
// (npm_lifecycle_event) or with FLEET_MATRIX=full; otherwise the file skips itself.
import t from 'tap';
import { runMatrix, SHAPES, type MatrixCase } from '../fleet-matrix.test.js';

const MiB = 1 << 20;
const full = process.env['npm_lifecycle_event'] === 'test:faults' || process.env['FLEET_MATRIX'] === 'full';

if (!full) {
  t.pass('the full fleet matrix runs in `pnpm test:faults` (or with FLEET_MATRIX=full); `pnpm test` runs test/fleet-matrix.test.ts');
} else {
  t.setTimeout(40 * 60_000);
  const sizeFor: Record<number, number> = {
    8: Number(process.env['FLEET_MATRIX_MIB_8'] ?? 32) * MiB,
    32: Number(process.env['FLEET_MATRIX_MIB_32'] ?? 16) * MiB,
  };
  const cases: MatrixCase[] = [];
  for (const origin of ['loopback', 's3like'] as const) {
    for (const processes of [8, 32]) {
      for (const shape of SHAPES) cases.push({ origin, shape, processes, size: sizeFor[processes]! });
    }
  }
  // FLEET_MATRIX_CASES=s3like:loop:32,loopback:whole:8 runs only those cases (origin:shape:processes).
  const only = process.env['FLEET_MATRIX_CASES']?.split(',').map((s) => s.trim()).filter(Boolean);
  const chosen = only ? cases.filter((c) => only.includes(`${c.origin}:${c.shape}:${c.processes}`)) : cases;
  const t0 = Date.now();
  await runMatrix(t, chosen, 180_000);
  t.comment(`fleet matrix (full): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

// The reads of WORKLOADS.md (shared definition), and the dataset they read.
import { createHash } from 'node:crypto';

export const MiB = 1 << 20;
export const DATASET_SIZE = 256 * MiB;
export const DATASET_SHA256 = 'ea6409a6f6011690ceea88cdf22eabbd25207699801b389497422219817f24dd';

/** Block k of the dataset: SHAKE128("fsspec-redis-bench/v1/block/<k>", 1 MiB). */
export const datasetBlock = (k) =>
  createHash('shake128', { outputLength: MiB }).update(`fsspec-redis-bench/v1/block/${k}`, 'ascii').digest();

/** W1: 256 sequential 1 MiB reads (block mode). */
export const w1Reads = (n = 256) => Array.from({ length: n }, (_, i) => ({ start: i * MiB, end: (i + 1) * MiB }));

/** W2: 4096 scattered 64 KiB reads (chunk mode). offset_i = ((i*2654435761) mod 4095)*65536 + ((i*40503) mod 4096). */
export const w2Reads = (n = 4096) => Array.from({ length: n }, (_, i) => {
  const start = ((i * 2654435761) % 4095) * 65536 + ((i * 40503) % 4096);
  return { start, end: start + 65536 };
});

/**
 * HOT (rangecache's own, not in WORKLOADS.md): a service serving the same hot chunks many times. n reads of
 * 64 KiB cycling through the first `distinct` reads of W2 (chunk mode).
 */
export const hotReads = (n = 4096, distinct = 256) => {
  const base = w2Reads(distinct);
  return Array.from({ length: n }, (_, i) => base[i % distinct]);
};

/** W3 per process: the first 64 reads of W1. */
export const w3Reads = (n = 64) => w1Reads(n);

export const EXPECTED = {
  W1: 'ea6409a6f6011690ceea88cdf22eabbd25207699801b389497422219817f24dd',
  W2: 'be33b734705d6ba942ab138b28a2b3d4a17520d51ae609ec3f83a601d3c64815',
  W3: '94afc1e8501420eb87b2b4271194559b83a5fe2e6c130bf54c24901c699d852d',
};

/**
 * The dataset as bench/data/data.bin (written from its blocks the first time, about 1 s), read and checked
 * against DATASET_SHA256. `log` says when it is generated.
 */
export async function loadDataset(dataDir, log = () => {}) {
  const { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { createHash } = await import('node:crypto');
  mkdirSync(dataDir, { recursive: true });
  const dataFile = join(dataDir, 'data.bin');
  if (!existsSync(dataFile) || statSync(dataFile).size !== DATASET_SIZE) {
    log('generating the 256 MiB dataset (SHAKE128 blocks)');
    const fd = openSync(dataFile, 'w');
    for (let k = 0; k < 256; k++) writeSync(fd, datasetBlock(k));
    closeSync(fd);
  }
  const data = readFileSync(dataFile);
  const dataHash = createHash('sha256').update(data).digest('hex');
  if (dataHash !== DATASET_SHA256) throw new Error(`${dataFile}: sha256 ${dataHash} is not ${DATASET_SHA256}`);
  return { data, dataFile };
}

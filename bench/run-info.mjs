// What a benchmark result records about the code it measured.
import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The commit the packages were built from, "+dirty" when the working tree differs from it under packages/. */
export function gitDescribe() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', '../packages'], { cwd: here, encoding: 'utf8' }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch { return 'unknown'; }
}

#!/usr/bin/env node
// What a value's write costs Redis: `SET key value PX ttl` against the same SET inside a script (`EVAL`), as
// RedisStore's release script writes small landings, for values of 16 KiB to 1 MiB. Prints redis-server's CPU time
// (user + system, from INFO cpu) and the wall time per call, one call at a time, twice per size, alternating.
// Lua copies every value it is handed; this measures what that costs (see SCRIPT_WRITE_MAX_BYTES in
// packages/redis/src/redis-store.ts). Starts its own redis-server.
//
//   node bench/write-cost.mjs
import { redisCpuMs, startRedis } from '@rangecache/test-support';

const SET_IN_SCRIPT = "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1";
const redis = await startRedis({ ownProcess: true });
const client = await redis.client();
try {
  console.log('| value | write | calls | redis-server CPU per call, µs | wall per call, µs |');
  console.log('|---|---|---|---|---|');
  for (const size of [16 << 10, 64 << 10, 256 << 10, 1 << 20]) {
    const value = Buffer.alloc(size, 7);
    const calls = Math.max(200, Math.round((64 << 20) / size));
    for (const how of ['SET', 'EVAL', 'SET', 'EVAL']) {
      const cpu0 = await redisCpuMs(client);
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) {
        const key = `write-cost:${i % 8}`;
        if (how === 'SET') await client.sendCommand(['SET', key, value, 'PX', '60000']);
        else await client.sendCommand(['EVAL', SET_IN_SCRIPT, '1', key, value, '60000']);
      }
      const wallUs = (1000 * (performance.now() - t0)) / calls;
      const cpu = (1000 * ((await redisCpuMs(client)) - cpu0)) / calls; // µs
      console.log(`| ${size >> 10} KiB | ${how} | ${calls} | ${cpu.toFixed(0)} | ${wallUs.toFixed(0)} |`);
    }
  }
} finally {
  await redis.stop();
}

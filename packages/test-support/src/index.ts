export { commandCalls, freePort, startRedis } from './redis-server.js';
export type { RedisServerHandle, TestRedisClient } from './redis-server.js';
export { pseudoRandomBytes, tempDir } from './data.js';
export type { TempDir } from './data.js';
export { CountingFetcher } from './counting-fetcher.js';

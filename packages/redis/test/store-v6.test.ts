// The store suite on node-redis 6 (the version every other test here uses), over RESP2 and RESP3.
import t from 'tap';
import { createRequire } from 'node:module';
import { RESP_TYPES, createClient } from 'redis';
import { storeSuite } from './store-suite.js';

const version = (createRequire(import.meta.url)('redis/package.json') as { version: string }).version;

t.test('node-redis 6 maps binary replies through RESP_TYPES.BLOB_STRING, which the driver spells 36', async (t) => {
  t.match(version, /^6\./, `node-redis ${version}`);
  t.equal(RESP_TYPES.BLOB_STRING, 36);
});

for (const RESP of [2, 3] as const) {
  storeSuite(t, {
    name: `node-redis ${version} (RESP${RESP})`,
    major: 5,
    async connect(url) {
      const client = createClient({ url, RESP, disableOfflineQueue: true, socket: { reconnectStrategy: () => 20 } });
      client.on('error', () => {});
      await client.connect();
      return client;
    },
  });
}

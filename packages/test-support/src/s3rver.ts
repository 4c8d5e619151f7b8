/** An in-process S3-compatible server (s3rver 3.7.1) for tests, with an SDK client pointed at it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

// s3rver ships CommonJS without types.
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

/** s3rver's fixed development credentials (not secrets: they are in its README). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  readonly bucket: string;
  /** An SDK client for `endpoint` (or another endpoint, e.g. a proxy in front of this server). */
  client(endpoint?: string): S3Client;
  put(key: string, bytes: Uint8Array): Promise<void>;
  remove(key: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startS3rver(bucket = 'test-bucket'): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'rangecache-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: S3Client[] = [];
  const client = (at = endpoint): S3Client => {
    const c = new S3Client({ endpoint: at, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    clients.push(c);
    return c;
  };
  const admin = client();
  return {
    endpoint, host: '127.0.0.1', port, bucket, client,
    put: async (key, bytes) => { await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes })); },
    remove: async (key) => { await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })); },
    async stop() {
      for (const c of clients) c.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

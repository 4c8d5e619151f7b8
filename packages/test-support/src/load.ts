/** Load for tests that must hold on a busy machine or a slow link: CPU hogs and a rate-limited TCP proxy. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type Server, type Socket, connect, createServer } from 'node:net';

export interface TcpLink {
  readonly port: number;
  /**
   * Cuts every connection once `bytes` more bytes have gone from the server to the client (the part of the chunk
   * up to there is delivered first): a connection lost in the middle of a reply.
   */
  cutRepliesAfter(bytes: number): void;
  /**
   * Stops passing bytes from the server to the client once `bytes` more have gone (the part of the chunk up to
   * there is delivered first), and keeps every connection open: a server that stalls in the middle of a reply.
   */
  stallRepliesAfter(bytes: number): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy that moves at most `bytesPerSecond` each way: a slow but healthy link between the client and Redis
 * (the way a 1 Gbit/s or slower network is, compared with loopback). `Infinity`: as fast as loopback.
 */
export async function startSlowLink(target: number, bytesPerSecond: number): Promise<TcpLink> {
  const sockets = new Set<Socket>();
  let cutIn = Infinity;
  let stallIn = Infinity;
  let stalled = false;
  const pace = (from: Socket, to: Socket, downstream: boolean): void => {
    let next = performance.now();
    from.on('data', (chunk: Buffer) => {
      if (downstream && stalled) return;
      if (downstream && chunk.byteLength >= stallIn) {
        to.write(chunk.subarray(0, stallIn));
        stalled = true;
        from.pause();
        return;
      }
      if (downstream) stallIn -= chunk.byteLength;
      if (downstream && chunk.byteLength >= cutIn) {
        to.write(chunk.subarray(0, cutIn), () => { for (const s of sockets) s.destroy(); });
        cutIn = Infinity;
        return;
      }
      if (downstream) cutIn -= chunk.byteLength;
      to.write(chunk);
      if (!Number.isFinite(bytesPerSecond)) return;
      next = Math.max(next, performance.now()) + (chunk.byteLength / bytesPerSecond) * 1000;
      const wait = next - performance.now();
      if (wait >= 10) { // pausing for every 64 KiB chunk would add timer overhead to the rate
        from.pause();
        setTimeout(() => from.resume(), wait);
      }
    });
  };
  const server: Server = createServer((down) => {
    const up = connect(target, '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => { sockets.delete(s); down.destroy(); up.destroy(); });
    }
    pace(down, up, false);
    pace(up, down, true);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    cutRepliesAfter: (bytes) => { cutIn = bytes; },
    stallRepliesAfter: (bytes) => { stallIn = bytes; },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Busy-looping child processes (one per core here), so that this test competes for CPU like a loaded CI box. */
export function cpuHogs(n: number): { stop(): Promise<void> } {
  const children: ChildProcess[] = [];
  for (let i = 0; i < n; i++) children.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = once(c, 'exit');
      c.kill('SIGKILL');
      await exited;
    }));
  };
  process.once('exit', () => { for (const c of children) c.kill('SIGKILL'); });
  return { stop };
}

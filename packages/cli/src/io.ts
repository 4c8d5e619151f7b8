/** What a command talks to: its output streams, input, environment and cancellation. */

/** A writable stream as the CLI uses it (process.stdout, process.stderr, or a test's stream). */
export interface OutputStream extends NodeJS.WritableStream {
  /** `true` on a terminal. */
  isTTY?: boolean;
  /** Terminal width, where there is one. */
  columns?: number;
}

/** The standard streams, environment and cancellation signal a run of `rangecache` uses. */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Environment variables (REDIS_URL, AWS_*, RANGECACHE_*). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborts the command (Ctrl-C). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Writes `text` to `stream` and resolves once it was handed to the system, or the stream wants no more for now
 * and has drained (backpressure); rejects with an `AbortError` when `signal` fires first.
 *
 * @example
 * ```ts
 * for await (const chunk of stream) await write(io.stdout, chunk, io.signal);
 * ```
 */
export async function write(stream: NodeJS.WritableStream, chunk: Uint8Array | string, signal?: AbortSignal): Promise<void> {
  if (stream.write(chunk)) return;
  signal?.throwIfAborted();
  await new Promise<void>((resolve, reject) => {
    const done = (e?: unknown): void => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (e === undefined) resolve();
      else reject(e);
    };
    const onDrain = (): void => done();
    const onError = (e: unknown): void => done(e);
    const onClose = (): void => done(new DOMException('output closed', 'AbortError'));
    const onAbort = (): void => done(signal!.reason ?? new DOMException('aborted', 'AbortError'));
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Writes one line (a newline is added) without waiting; for short reports. */
export function println(stream: NodeJS.WritableStream, line = ''): void {
  stream.write(`${line}\n`);
}

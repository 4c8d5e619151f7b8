#!/usr/bin/env node
/**
 * The `rangecache` executable: runs {@link main} on the process's arguments and streams, turns Ctrl-C and SIGTERM
 * into a clean stop (exit code 130; a second Ctrl-C exits at once) and a closed stdout (`| head`) into a quiet one
 * (exit code 0), and exits with the code main returns.
 */
import { ExitCode } from './errors.js';
import { main } from './main.js';

// The AWS SDK warns on stderr, in nine lines, that its 2027 releases will need Node 22; a CLI's stderr is for its
// own one-line messages. Set the variable to "false" to see the warning.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    controller.abort(new DOMException(signal === 'SIGINT' ? 'interrupted' : 'terminated', 'AbortError'));
    process.once(signal, () => process.exit(ExitCode.INTERRUPTED));
  });
}
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  const reason = Object.assign(new Error(`stdout: ${e.message}`), { name: 'AbortError', code: e.code });
  controller.abort(reason);
});

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  get stdin() {
    return process.stdin; // made only when a command reads it (a purge that asks)
  },
  env: process.env,
  signal: controller.signal,
});
process.exitCode = code;
// Everything is closed by now; should a connection still hold the event loop, do not hang on it.
setTimeout(() => process.exit(code), 1000).unref();

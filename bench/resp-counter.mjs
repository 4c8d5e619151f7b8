// Counts the Redis commands this process sends, on the client side, by reading the RESP requests written to
// every socket (net.Socket.prototype.write is wrapped once, before any client connects).
//
// Why: Redis 7.0's INFO commandstats (and total_commands_processed) also count the commands a Lua script runs
// with redis.call(), and the commands queued inside MULTI, with nothing to tell them apart from what clients
// sent. The server-side total minus what the clients wrote is the commands run inside scripts.
//
// Reported per process:
//   commands: { name: count } of every command written (lower case; MULTI, EXEC and the commands queued
//             between them each count once, as commandstats counts them);
//   queued:   how many of those were queued inside MULTI ... EXEC;
//   flushes:  groups of commands written to one connection in one event-loop turn. node-redis corks its socket
//             and uncorks it on setImmediate, so commands issued in the same turn (by one read or by
//             concurrent ones) leave as one pipelined write: a flush is one request/response round trip.
//             Commands of different reads can share a flush (one read's write-behind and the next read's lookup),
//             so flushes per read can be lower than the round trips one read makes; concurrent flushes also overlap.
// Sockets whose first byte is not '*' (HTTP to the origin) are ignored after that byte.
import net from 'node:net';

export const redisTraffic = { commands: {}, queued: 0, flushes: 0 };

const state = new WeakMap();
const CR = 13;

/** A streaming RESP request parser: only the array and bulk-string headers are read; payloads are skipped. */
function feed(s, buf) {
  let i = 0;
  while (i < buf.length) {
    if (s.skip > 0) {
      // Inside a bulk payload (+2 for its CRLF). The first bulk of a command is its name: keep up to 32 bytes.
      const n = Math.min(s.skip, buf.length - i);
      if (s.arg === 0 && s.name.length < 32) s.name += buf.toString('latin1', i, i + Math.min(n, 32 - s.name.length));
      i += n;
      s.skip -= n;
      if (s.skip === 0) {
        if (s.arg === 0) s.name = s.name.slice(0, s.nameLen);
        s.arg++;
        if (s.arg === s.argc) done(s);
      }
      continue;
    }
    // Reading a header line: '*<argc>\r\n' or '$<len>\r\n'.
    const b = buf[i++];
    if (b === CR) continue;
    if (b === 10) {
      const line = s.line;
      s.line = '';
      if (line[0] === '*') { s.argc = Number(line.slice(1)); s.arg = 0; s.name = ''; if (s.argc <= 0) done(s); }
      else if (line[0] === '$') { const len = Number(line.slice(1)); if (s.arg === 0) s.nameLen = len; s.skip = len + 2; }
      else { s.dead = true; return; } // not RESP after all
      continue;
    }
    s.line += String.fromCharCode(b);
  }
}

function done(s) {
  const name = s.name.slice(0, s.nameLen).toLowerCase();
  redisTraffic.commands[name] = (redisTraffic.commands[name] ?? 0) + 1;
  if (name === 'multi') s.inMulti = true;
  else if (name === 'exec' || name === 'discard') s.inMulti = false;
  else if (s.inMulti) redisTraffic.queued++;
  if (!s.flushOpen) {
    s.flushOpen = true;
    redisTraffic.flushes++;
    setImmediate(() => { s.flushOpen = false; });
  }
}

let installed = false;
export function installRedisCounter() {
  if (installed) return;
  installed = true;
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function (chunk, encoding, cb) {
    let s = state.get(this);
    if (s === undefined) {
      const first = typeof chunk === 'string' ? chunk.charCodeAt(0) : chunk?.[0];
      s = { dead: first !== 42, line: '', skip: 0, argc: 0, arg: 0, name: '', nameLen: 0, inMulti: false, flushOpen: false };
      state.set(this, s);
    }
    if (!s.dead && chunk != null) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : chunk;
      feed(s, buf instanceof Uint8Array && !Buffer.isBuffer(buf) ? Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength) : buf);
    }
    return write.call(this, chunk, encoding, cb);
  };
}

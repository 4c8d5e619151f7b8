/**
 * The Lua scripts behind the leases of `RedisCoordinator` (claims, lookups that claim, extensions,
 * releases), the key suffixes they use and the release channel: what Redis runs, kept apart from the code that
 * calls it. `RedisStore` writes a small landing with {@link WRITE_RELEASE_SCRIPT}, a big one in a transaction that
 * ends with {@link RELEASE_SCRIPT}.
 */
import { hashTagOf } from '@rangecache/core/store-kit';

/** The lease on data key K is K + LEASE_SUFFIX, its waiter count K + WAITERS_SUFFIX. Data keys end in digits. */
export const LEASE_SUFFIX = ':lease';
export const WAITERS_SUFFIX = ':waiters';

/**
 * A lease's value is `<owner>:<version>`. A claim starts the version at a number the claimer picks at random, and
 * every extension adds one, so a waiter that sees the same version over a lease period knows that nobody extended
 * it, whatever Redis's own clock did meanwhile (see `RedisCoordinator`). The key's Redis TTL is only a backstop.
 */
const LEASE_VERSION_SEPARATOR = ':';

// Whether lease value v (false when absent) is owner ARGV[1]'s, as Lua: shared by the checks, extension and release.
const OWNED = (v: string): string => `${v} and string.sub(${v}, 1, #ARGV[1] + 1) == ARGV[1] .. '${LEASE_VERSION_SEPARATOR}'`;

// The lease part of a check, shared by both check scripts (inside their per-key `if`; `lk` is the lease key, `mine`
// this caller's new lease value, `ms` the backstop TTL, `stale` the version this caller saw go unextended, or nil):
// take the lease (1), take over a stale one (1), or count this caller as a waiter of its holder and answer minus
// the holder's version, so that the release is published to this caller. The version is 0, never taken over, for
// this caller's own lease and for a lease without one.
const CLAIM_OR_WAIT = `elseif redis.call('SET', lk, mine, 'NX', 'PX', ms) then
    out[i] = 1
  else
    local held = redis.call('GET', lk) or ''
    local version = 0
    if not (${OWNED('held')}) then version = tonumber(string.match(held, '${LEASE_VERSION_SEPARATOR}(%d+)$')) or 0 end
    if version > 0 and stale ~= nil and stale ~= '' and tonumber(stale) == version then
      redis.call('SET', lk, mine, 'PX', ms)
      out[i] = 1
    else
      local w = key .. '${WAITERS_SUFFIX}'
      redis.call('INCR', w)
      redis.call('PEXPIRE', w, ms)
      out[i] = -version
    end
  end`;

// KEYS: data keys; ARGV[1]: owner, ARGV[2]: backstop ms, ARGV[3]: the new lease's version, then (optional) per key
// the version to take over ('' for none). Per key: 2 = value landed, 1 = claimed, <= 0 = busy (minus the holder's
// version; the key's waiter count goes up, so that its release is published).
export const CLAIM_SCRIPT = `
local out = {}
local ms = ARGV[2]
local mine = ARGV[1] .. '${LEASE_VERSION_SEPARATOR}' .. ARGV[3]
for i, key in ipairs(KEYS) do
  local lk = key .. '${LEASE_SUFFIX}'
  local stale = ARGV[3 + i]
  if redis.call('EXISTS', key) == 1 then
    out[i] = 2
  ${CLAIM_OR_WAIT}
end
return out`;

// KEYS: data keys; ARGV[1]: owner, ARGV[2]: backstop ms, ARGV[3]: the new lease's version, ARGV[4]: value bytes
// the reply may carry, then (optional) per key the version to take over. Like CLAIM_SCRIPT, but a landed value
// comes back itself (a bulk reply, read as a Buffer), so a cold read's lookup and claim are one round trip, while
// the values fit ARGV[4] in all; past it, a landed value is 2, to be read with MGET (on the store's own
// connection, where a big reply shows its progress byte by byte, and Redis copies it once, not through Lua).
export const LOOKUP_CLAIM_SCRIPT = `
local out = {}
local ms = ARGV[2]
local mine = ARGV[1] .. '${LEASE_VERSION_SEPARATOR}' .. ARGV[3]
local room = tonumber(ARGV[4])
for i, key in ipairs(KEYS) do
  local lk = key .. '${LEASE_SUFFIX}'
  local stale = ARGV[4 + i]
  local size = redis.call('STRLEN', key)
  if size > room then
    out[i] = 2
  elseif size > 0 or redis.call('EXISTS', key) == 1 then
    out[i] = redis.call('GET', key)
    room = room - size
  ${CLAIM_OR_WAIT}
end
return out`;

// KEYS: data keys; ARGV[1]: owner, ARGV[2]: backstop ms. Returns one character per key, as a bulk string (which the
// store's own connection reads, as it reads MGET): '1' = this owner's lease has a new version and lives ARGV[2] ms
// more (and its waiter count at least as long, so that its release is still published), '0' = not this owner's.
export const EXTEND_SCRIPT = `
local out = {}
local ms = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local lease = key .. '${LEASE_SUFFIX}'
  local v = redis.call('GET', lease)
  if ${OWNED('v')} then
    local version = tonumber(string.sub(v, #ARGV[1] + 2)) or 0
    redis.call('SET', lease, ARGV[1] .. '${LEASE_VERSION_SEPARATOR}' .. (version + 1), 'PX', ms)
    local w = key .. '${WAITERS_SUFFIX}'
    local left = redis.call('PTTL', w)
    if left >= 0 and left < ms then redis.call('PEXPIRE', w, ms) end
    out[i] = '1'
  else
    out[i] = '0'
  end
end
return table.concat(out)`;

/** Keys per release message: bounds what one PUBLISH carries (and each subscriber parses). */
export const KEYS_PER_RELEASE_MESSAGE = 256;

// KEYS: data keys; ARGV[1]: owner, ARGV[2]: channel. Deletes only this owner's leases, then tells the waiters of
// the keys that have some (an uncontended release publishes nothing), in messages of at most
// KEYS_PER_RELEASE_MESSAGE keys ('\n'-separated; data keys are percent-encoded, so they hold no newline).
// PUBLISH on a single Redis; SPUBLISH on a cluster, where the channel is in the keys' slot (see channelOf).
const RELEASE = (publish: Publish): string => `
local waited = {}
for _, key in ipairs(KEYS) do
  local lease = key .. '${LEASE_SUFFIX}'
  local v = redis.call('GET', lease)
  if ${OWNED('v')} then redis.call('DEL', lease) end
  if redis.call('DEL', key .. '${WAITERS_SUFFIX}') == 1 then waited[#waited + 1] = key end
end
for first = 1, #waited, ${KEYS_PER_RELEASE_MESSAGE} do
  redis.call('${publish}', ARGV[2], table.concat(waited, '\\n', first, math.min(#waited, first + ${KEYS_PER_RELEASE_MESSAGE} - 1)))
end
return #waited`;
/** How releases are published: to every subscriber (single Redis), or within the keys' shard (cluster). */
export type Publish = 'PUBLISH' | 'SPUBLISH';
export const RELEASE_SCRIPT = RELEASE('PUBLISH');
export const SHARDED_RELEASE_SCRIPT = RELEASE('SPUBLISH');

// KEYS: data keys; ARGV[1]: owner, ARGV[2]: channel, then per key a TTL in ms ('' for none) and the value. Writes
// every value, then releases as RELEASE_SCRIPT does: a write and its release as one command. (A MULTI of SETs and
// a release is several commands, and node-redis stops writing after the one that fills the socket's buffer, so
// the rest of the transaction, EXEC included, would wait for the next write: one more syscall per landing.) Used
// for small landings only: Lua copies the values (see SCRIPT_WRITE_MAX_BYTES in redis-store.ts).
const WRITE_RELEASE = (publish: Publish): string => `
for i, key in ipairs(KEYS) do
  local ttl = ARGV[1 + 2 * i]
  if ttl == '' then redis.call('SET', key, ARGV[2 + 2 * i]) else redis.call('SET', key, ARGV[2 + 2 * i], 'PX', ttl) end
end
${RELEASE(publish).trimStart()}`;
export const WRITE_RELEASE_SCRIPT = WRITE_RELEASE('PUBLISH');
export const SHARDED_WRITE_RELEASE_SCRIPT = WRITE_RELEASE('SPUBLISH');

/**
 * The pub/sub channel for releases of `key`: on a single Redis one per namespace (`rangecache:v2:<ns>:released`);
 * on a cluster (`sharded`) one per hash tag, in the key's own slot (`rangecache:v2:<ns>:released{<tag>}`), so a
 * release script may `SPUBLISH` on it and only that shard's subscribers receive it.
 */
export function channelOf(key: string, sharded = false): string {
  const ns = key.split(':', 3)[2] ?? '';
  return sharded ? `rangecache:v2:${ns}:released{${hashTagOf(key)}}` : `rangecache:v2:${ns}:released`;
}

/**
 * The `EVAL`s that release `owner`'s leases on `keys`: one {@link RELEASE_SCRIPT} per release channel (keys of one
 * namespace share one; on a cluster, keys of one hash tag, so each script's keys are in one slot).
 */
export function releaseCommands(keys: readonly string[], owner: string, sharded = false): { script: string; keys: string[]; args: string[] }[] {
  const byChannel = new Map<string, string[]>();
  for (const key of keys) {
    const c = channelOf(key, sharded);
    const list = byChannel.get(c);
    if (list) list.push(key);
    else byChannel.set(c, [key]);
  }
  const script = sharded ? SHARDED_RELEASE_SCRIPT : RELEASE_SCRIPT;
  return [...byChannel].map(([channel, list]) => ({ script, keys: list, args: [owner, channel] }));
}

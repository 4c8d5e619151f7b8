/**
 * The Lua scripts behind the leases of `RedisCoordinator` (claims, lookups that claim, extensions,
 * releases), the key suffixes they use and the release channel: what Redis runs, kept apart from the code that
 * calls it. `RedisCoordinator.writeAndRelease` sends {@link RELEASE_SCRIPT} in the last transaction of its write.
 */

/** The lease on data key K is K + LEASE_SUFFIX, its waiter count K + WAITERS_SUFFIX. Data keys end in digits. */
export const LEASE_SUFFIX = ':lease';
export const WAITERS_SUFFIX = ':waiters';

// The lease part of a check, shared by both check scripts (inside their per-key `if`): take the lease (1), or
// count this caller as a waiter of its holder (0), so that the release is published.
const CLAIM_OR_WAIT = `elseif redis.call('SET', key .. '${LEASE_SUFFIX}', ARGV[1], 'NX', 'PX', ARGV[2]) then
    out[i] = 1
  else
    local w = key .. '${WAITERS_SUFFIX}'
    redis.call('INCR', w)
    redis.call('PEXPIRE', w, ARGV[2])
    out[i] = 0
  end`;

// KEYS: data keys; ARGV[1]: owner, ARGV[2]: lease ms. Per key: 2 = value landed, 1 = claimed, 0 = busy (and
// then the key's waiter count goes up, so that its release is published).
export const CLAIM_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    out[i] = 2
  ${CLAIM_OR_WAIT}
end
return out`;

// KEYS: data keys; ARGV[1]: owner, ARGV[2]: lease ms. Like CLAIM_SCRIPT, but a landed value comes back itself (a
// bulk reply, read as a Buffer), so a cold read's lookup and claim are one round trip.
export const LOOKUP_CLAIM_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value then
    out[i] = value
  ${CLAIM_OR_WAIT}
end
return out`;

// KEYS: data keys; ARGV[1]: owner, ARGV[2]: lease ms. Per key: 1 = this owner's lease now lives ARGV[2] ms more
// (and its waiter count at least as long, so that its release is still published), 0 = not this owner's lease.
export const EXTEND_SCRIPT = `
local out = {}
local ms = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local lease = key .. '${LEASE_SUFFIX}'
  if redis.call('GET', lease) == ARGV[1] then
    redis.call('PEXPIRE', lease, ms)
    local w = key .. '${WAITERS_SUFFIX}'
    local left = redis.call('PTTL', w)
    if left >= 0 and left < ms then redis.call('PEXPIRE', w, ms) end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out`;

/** Keys per release message: bounds what one PUBLISH carries (and each subscriber parses). */
export const KEYS_PER_RELEASE_MESSAGE = 256;

// KEYS: data keys; ARGV[1]: owner, ARGV[2]: channel. Deletes only this owner's leases, then tells the waiters of
// the keys that have some (an uncontended release publishes nothing), in messages of at most
// KEYS_PER_RELEASE_MESSAGE keys ('\n'-separated; data keys are percent-encoded, so they hold no newline).
const RELEASE = `
local waited = {}
for _, key in ipairs(KEYS) do
  local lease = key .. '${LEASE_SUFFIX}'
  if redis.call('GET', lease) == ARGV[1] then redis.call('DEL', lease) end
  if redis.call('DEL', key .. '${WAITERS_SUFFIX}') == 1 then waited[#waited + 1] = key end
end
for first = 1, #waited, ${KEYS_PER_RELEASE_MESSAGE} do
  redis.call('PUBLISH', ARGV[2], table.concat(waited, '\\n', first, math.min(#waited, first + ${KEYS_PER_RELEASE_MESSAGE} - 1)))
end
return #waited`;
export const RELEASE_SCRIPT = RELEASE;

// KEYS: data keys; ARGV[1]: owner, ARGV[2]: channel, then per key a TTL in ms ('' for none) and the value. Writes
// every value, then releases as RELEASE_SCRIPT does: a write and its release as one command. (A MULTI of SETs and
// a release is several commands, and node-redis stops writing after the one that fills the socket's buffer, so
// the rest of the transaction, EXEC included, would wait for the next write: one more syscall per landing.)
export const WRITE_RELEASE_SCRIPT = `
for i, key in ipairs(KEYS) do
  local ttl = ARGV[1 + 2 * i]
  if ttl == '' then redis.call('SET', key, ARGV[2 + 2 * i]) else redis.call('SET', key, ARGV[2 + 2 * i], 'PX', ttl) end
end
${RELEASE.trimStart()}`;

/** The pub/sub channel for releases of keys in the namespace of `key` (`rangecache:v2:<ns>:…`). */
export function channelOf(key: string): string {
  const ns = key.split(':', 3)[2] ?? '';
  return `rangecache:v2:${ns}:released`;
}

/**
 * The `EVAL`s that release `owner`'s leases on `keys`: one {@link RELEASE_SCRIPT} per release channel (keys of one
 * namespace share one).
 */
export function releaseCommands(keys: readonly string[], owner: string): { script: string; keys: string[]; args: string[] }[] {
  const byChannel = new Map<string, string[]>();
  for (const key of keys) {
    const c = channelOf(key);
    const list = byChannel.get(c);
    if (list) list.push(key);
    else byChannel.set(c, [key]);
  }
  return [...byChannel].map(([channel, list]) => ({ script: RELEASE_SCRIPT, keys: list, args: [owner, channel] }));
}

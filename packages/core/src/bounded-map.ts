/**
 * Sets `key` as the newest entry of an insertion-ordered Map, dropping the oldest entry when the map already
 * holds `max`: an LRU when called on every use, a bounded FIFO when called on every insert.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

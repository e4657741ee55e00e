// A map that keeps only its `capacity` most recently set entries: the channel's memory of recent
// messages, questions and interactions stays bounded however long the daemon runs. Pure.

export interface Recent<K, V> {
  readonly set: (key: K, value: V) => void
  readonly get: (key: K) => V | undefined
  readonly has: (key: K) => boolean
  /** Get and forget. */
  readonly take: (key: K) => V | undefined
  readonly delete: (key: K) => void
  readonly keys: () => ReadonlyArray<K>
  readonly size: () => number
}

export const makeRecent = <K, V>(capacity: number): Recent<K, V> => {
  const map = new Map<K, V>()
  return {
    set: (key, value) => {
      map.delete(key)
      map.set(key, value)
      while (map.size > capacity) map.delete(map.keys().next().value!)
    },
    get: (key) => map.get(key),
    has: (key) => map.has(key),
    take: (key) => {
      const value = map.get(key)
      map.delete(key)
      return value
    },
    delete: (key) => void map.delete(key),
    keys: () => [...map.keys()],
    size: () => map.size
  }
}

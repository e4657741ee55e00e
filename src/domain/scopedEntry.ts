// A map entry that lives as long as the caller's scope. On release it is removed only if it is
// still the caller's own: a stale owner closing late never removes its replacement.
import { Effect } from "effect"

export const scopedEntry = <K, V>(map: Map<K, V>, key: K, value: V) =>
  Effect.acquireRelease(
    Effect.sync(() => map.set(key, value)),
    () => Effect.sync(() => map.get(key) === value && map.delete(key))
  ).pipe(Effect.asVoid)

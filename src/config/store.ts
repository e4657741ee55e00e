// Settings of the durable store (src/store/): how hard each commit tries to reach the disk.
import { Config } from "effect"

export const storeConfig = Config.all({
  /**
   * `process`: a commit survives the process being killed (kill -9, OOM): WAL with
   * `synchronous=NORMAL`. `power`: it also survives power loss: `synchronous=FULL` (fsync per commit).
   */
  durability: Config.Literals(["process", "power"], "SWITCHBOARD_DURABILITY").pipe(Config.withDefault("process"))
})

export type StoreSettings = Config.Success<typeof storeConfig>
export type Durability = StoreSettings["durability"]

// The store's metric descriptors (values live in the runtime's registry, like domain/metrics.ts).
import { Metric } from "effect"

export const storeRows = Metric.gauge("switchboard_store_rows", { description: "Rows in each table of the durable store" })
export const storeFailures = Metric.counter("switchboard_store_failures_total", {
  description: "Reads and writes of the durable store that failed",
  incremental: true
})

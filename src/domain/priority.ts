// Priority policy: rank, aging. Pure, so it is tested without a queue.
import { PRIORITIES, type Priority } from "./model.ts"

export const rankOf = (priority: Priority): number => PRIORITIES.indexOf(priority)

/**
 * The rank an item competes with after waiting `waitedMs`: one level higher per `agingMs` waited,
 * so nothing starves. Aging stops at `human`: an old automation event never overtakes a control
 * command such as stop.
 */
export const effectiveRank = (priority: Priority, waitedMs: number, agingMs: number): number => {
  const base = rankOf(priority)
  if (base <= 1 || agingMs <= 0) return base
  const promoted = base - Math.floor(Math.max(0, waitedMs) / agingMs)
  return Math.max(1, promoted)
}

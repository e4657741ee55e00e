// The thin layer over node:sqlite the tables use: prepared statements cached per SQL text, and
// rows typed by the caller. Synchronous, like node:sqlite itself: a transaction is one call.
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite"

export type Param = SQLInputValue

export interface Db {
  readonly run: (sql: string, ...params: ReadonlyArray<Param>) => { readonly changes: number | bigint; readonly lastInsertRowid: number | bigint }
  readonly get: <T>(sql: string, ...params: ReadonlyArray<Param>) => T | undefined
  readonly all: <T>(sql: string, ...params: ReadonlyArray<Param>) => ReadonlyArray<T>
}

export const makeDb = (database: DatabaseSync): Db => {
  const statements = new Map<string, StatementSync>()
  const statement = (sql: string) => {
    const cached = statements.get(sql)
    if (cached !== undefined) return cached
    const fresh = database.prepare(sql)
    statements.set(sql, fresh)
    return fresh
  }
  return {
    run: (sql, ...params) => statement(sql).run(...params),
    get: <T>(sql: string, ...params: ReadonlyArray<Param>) => statement(sql).get(...params) as T | undefined,
    all: <T>(sql: string, ...params: ReadonlyArray<Param>) => statement(sql).all(...params) as unknown as ReadonlyArray<T>
  }
}

// One place for the fuzz runs' size: a fixed seed and a small count inside `npm test`; `npm run
// fuzz` raises the count (FUZZ_RUNS) and a failing run prints its seed (FUZZ_SEED replays it).
import fc from "fast-check"

export const fuzzParameters = (ciRuns: number): fc.Parameters<unknown> => ({
  seed: Number(process.env["FUZZ_SEED"] ?? 20261202),
  numRuns: Number(process.env["FUZZ_RUNS"] ?? ciRuns),
  endOnFailure: true
})

/** JSON-ish values that look like what a client or a provider might really send, and a bit worse. */
export const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string(),
    fc.string({ unit: "binary" }),
    fc.constantFrom("", " ", "\n\t ", "/stop", "/status", "/new", "http:a", "telegram:1", "..", "%ZZ", "\u0000", "\u001b]0;x\u0007"),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 12 }), tie("value"), { maxKeys: 5 })
  )
})).value

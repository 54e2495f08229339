/**
 * Typing helpers for the small test tier: an in-memory twin of a repository declares the public members it shares
 * with the real class (`Public<T>`, or a `Pick` of the members a service uses), and `twin` hands it to a service
 * whose constructor is typed with the real class. Only the public shape is checked; the real classes' private
 * fields (their database handles) are what the twins replace. `T` is always written out at the call (`NoInfer`), so
 * a twin cannot silently stand in for its own type. No behaviour lives here.
 */

/** The public members of a class (private and protected ones are not part of `keyof`). */
export type Public<T> = { [K in keyof T]: T[K] };

/** A twin with every public member of `T`, passed where a `T` is expected. */
export function twin<T>(implementation: Public<NoInfer<T>>): T {
  return implementation;
}

/**
 * A twin of only the members `K` the service under test calls, passed where a `T` is expected: a call to any other
 * member fails the test with a TypeError instead of silently doing nothing.
 */
export function partialTwin<T, K extends keyof T>(implementation: Pick<NoInfer<T>, K>): T {
  return implementation as T;
}

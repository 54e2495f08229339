/**
 * The single entry point to libsodium: loads the WebAssembly module once (`ready()`) and hands out the loaded
 * instance synchronously afterwards, so hot paths never await. Does not wrap individual primitives; see the
 * sibling modules for that.
 */
import sodiumModule from 'libsodium-wrappers-sumo';

export type Sodium = typeof sodiumModule;

let loaded: Sodium | null = null;
let loading: Promise<void> | null = null;

/** Loads libsodium. Every other function of this package requires this promise to have resolved once. */
export function ready(): Promise<void> {
  if (loaded) return Promise.resolve();
  loading ??= sodiumModule.ready.then(() => {
    loaded = sodiumModule;
  });
  return loading;
}

/** The loaded libsodium instance; throws a clear error when `ready()` has not completed. */
export function sodium(): Sodium {
  if (!loaded) throw new Error('@cove/crypto: call and await ready() before using the library');
  return loaded;
}

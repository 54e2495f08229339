/**
 * React bindings to the app model: the current state as a subscribed snapshot, async data that reloads when the
 * model's revision changes, and the model itself through context. No browser APIs.
 */
import { createContext, useContext, useEffect, useState, useSyncExternalStore } from 'react';
import type { AppState, CoveApp } from '../app/model.js';

export const AppContext = createContext<CoveApp | null>(null);

export function useApp(): CoveApp {
  const app = useContext(AppContext);
  if (!app) throw new Error('AppContext missing');
  return app;
}

export function useAppState(): AppState {
  const app = useApp();
  return useSyncExternalStore(
    (listener) => app.subscribe(listener),
    () => app.getState(),
  );
}

/** Loads `load()` and reloads it whenever the model's revision or `deps` change; keeps the last value meanwhile. */
export function useLive<T>(load: () => Promise<T>, deps: readonly unknown[]): T | undefined {
  const { revision } = useAppState();
  const [value, setValue] = useState<T | undefined>(undefined);
  useEffect(() => {
    let cancelled = false;
    load().then(
      (v) => {
        if (!cancelled) setValue(v);
      },
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [revision, ...deps]);
  return value;
}

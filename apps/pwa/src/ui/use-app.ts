/**
 * React bindings to the app model: the current state as a subscribed snapshot, async data that reloads when the
 * model's revision changes, and the model itself through context. No browser APIs.
 */
import { createContext, useContext, useEffect, useState, useSyncExternalStore } from 'react';
import type { AppState, CoveApp } from '../app/model.js';
import { shareStructure } from './shared-structure.js';

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

/**
 * Loads `load()` and reloads it whenever the model's revision or `deps` change; keeps the last value meanwhile, and
 * the parts of it a reload returned unchanged (shared-structure.ts).
 */
export function useLive<T>(load: () => Promise<T>, deps: readonly unknown[]): T | undefined {
  const { revision } = useAppState();
  const [value, setValue] = useState<T | undefined>(undefined);
  useEffect(() => {
    let cancelled = false;
    load().then(
      (v) => {
        // What did not change keeps its old objects: no re-render for an equal reload, none for unchanged rows.
        if (!cancelled) setValue((previous) => shareStructure(previous, v));
      },
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [revision, ...deps]);
  return value;
}

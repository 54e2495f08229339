/**
 * Per-peer-device budgets over a fixed window, kept in storage so that a restart does not reset them: how many retry
 * requests from one device are answered, how many sessions with one device are rebuilt. A caller takes one unit and
 * commits the returned write with the rest of its batch. It does not decide what a budget is for.
 */
import { BUDGET_WINDOW_MS } from './constants.js';
import type { KeyValueStorage, WriteOp } from './platform.js';
import type { BudgetEntry } from './tables.js';
import { budgetKey } from './tables.js';
import { asBudget } from './meta.js';

export type BudgetDecision = {
  /** Whether a unit was available (and is now taken). */
  allowed: boolean;
  /** The first refusal of this window: the moment to tell the user, once. */
  firstRefusal: boolean;
  /** When the window ends and the budget is whole again. */
  resetsAt: number;
  /** The updated counter, to commit with the caller's batch. */
  write: WriteOp;
};

export const takeBudget = async (
  storage: KeyValueStorage,
  kind: 'retry' | 'reset',
  accountId: string,
  deviceId: number,
  max: number,
  now: number,
): Promise<BudgetDecision> => {
  const key = budgetKey(kind, accountId, deviceId);
  const stored = asBudget(await storage.get('meta', key));
  // A window in the future (the clock went back) is treated as over, so a wrong clock cannot lock a peer out.
  const current =
    stored && now >= stored.windowStart && now - stored.windowStart < BUDGET_WINDOW_MS
      ? stored
      : { windowStart: now, count: 0, notified: false };
  const allowed = current.count < max;
  const next: BudgetEntry = allowed ? { ...current, count: current.count + 1 } : { ...current, notified: true };
  return {
    allowed,
    firstRefusal: !allowed && !current.notified,
    resetsAt: current.windowStart + BUDGET_WINDOW_MS,
    write: { op: 'put', table: 'meta', key, value: next },
  };
};

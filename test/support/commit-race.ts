/**
 * Makes two commits of one client meet, for tests of lost updates between two pipelines that read and write the same
 * row: whichever of the two commits comes first is held until the other is under way — its own commit tried, or a
 * wait for a lock that is held at that moment (the fixed code's way of keeping the two apart) — so that without the
 * fix both read the row before either writes it, every run. The holds end on the other side's progress, never on
 * elapsed time. It wraps the client's real storage and lock manager in place (they stay the real ones underneath);
 * it decides nothing about what the commits are: the test names them.
 */
import type { Platform, WriteOp } from '@cove/client';

/** A one-time signal. */
const signal = (): { fire: () => void; fired: Promise<void> } => {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return { fire, fired };
};

export type CommitRace = {
  /** The names of the commits as they were applied (each once: the first of its kind). */
  order: string[];
  /** Resolves when the commit named `name` has been held (it came first and waits for the other). */
  held(name: string): Promise<void>;
};

/**
 * Holds the first commit matched by `first` or `second` until the other one is under way. `first` and `second` name
 * a commit by its batch; only the first batch each matches takes part.
 */
export function meetCommits(
  platform: Platform,
  first: { name: string; matches: (batch: readonly WriteOp[]) => boolean },
  second: { name: string; matches: (batch: readonly WriteOp[]) => boolean },
): CommitRace {
  const { storage, locks } = platform;
  const commit = storage.commit.bind(storage);
  const withLock = locks.withLock.bind(locks);
  const names = [first.name, second.name];
  const tried = new Map(names.map((name) => [name, signal()]));
  const held = new Map(names.map((name) => [name, signal()]));
  const applied = new Map(names.map((name) => [name, signal()]));
  const lockWaited = signal();
  /** How many holders each lock has now (a request for one with a holder waits). */
  const holders = new Map<string, number>();
  const order: string[] = [];
  /** The commit being held now, if any. */
  let holding: string | null = null;

  locks.withLock = (name, fn) => {
    if (holding !== null && (holders.get(name) ?? 0) > 0) lockWaited.fire();
    return withLock(name, async () => {
      holders.set(name, (holders.get(name) ?? 0) + 1);
      try {
        return await fn();
      } finally {
        holders.set(name, (holders.get(name) ?? 1) - 1);
      }
    });
  };
  storage.commit = async (batch) => {
    const side = [first, second].find((s) => !order.includes(s.name) && s.matches(batch))?.name;
    if (side === undefined) return commit(batch);
    const other = side === first.name ? second.name : first.name;
    tried.get(side)?.fire();
    if (holding === other) {
      // The other read the row first and waits: written after it, as the race has it.
      await applied.get(other)?.fired;
    } else if (!order.includes(other)) {
      holding = side;
      held.get(side)?.fire();
      await Promise.race([tried.get(other)?.fired, lockWaited.fired]);
      holding = null;
    }
    await commit(batch);
    order.push(side);
    applied.get(side)?.fire();
  };
  return { order, held: (name) => held.get(name)?.fired ?? Promise.resolve() };
}

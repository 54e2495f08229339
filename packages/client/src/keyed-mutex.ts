/**
 * In-process mutual exclusion by name: `run(name, fn)` starts `fn` once every earlier call with the same name has
 * settled. It is the per-peer serial queue of the inbox and outbox, and the in-process half of the Node lock
 * manager. It does not coordinate processes or tabs.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    const result = previous.then(fn, fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(name, tail);
    void tail.then(() => {
      if (this.tails.get(name) === tail) this.tails.delete(name);
    });
    return result;
  }

  /** Names with work queued or running. */
  get size(): number {
    return this.tails.size;
  }
}

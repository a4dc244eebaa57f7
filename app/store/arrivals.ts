/**
 * The in-process feed of mailbox writes: each adapter emits, after a write commits, the devices that
 * received entries (signals or server events, whichever aggregate wrote them), and `SignalStore.onArrival`
 * subscribes. One emitter per opened store, shared by its aggregates.
 */
export class Arrivals {
  private readonly listeners = new Set<(deviceIds: readonly string[]) => void>();

  listen(listener: (deviceIds: readonly string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after commit only, so a woken poll always finds what woke it. */
  emit(deviceIds: readonly string[]): void {
    if (deviceIds.length === 0) return;
    for (const listener of this.listeners) listener(deviceIds);
  }
}

// Stable activity lines for client ids. The native threads count each client's datagrams in a line of
// the shared counters; a client keeps its line across table changes, and a line freed by a departed
// client is reused last (freed lines queue behind never-used ones), so a packet thread still holding
// the previous table rarely writes into a line that a new client already owns. Pure logic.

/** The line every client beyond the capacity shares (its index is `capacity`). */
export class SlotAllocator {
  private readonly byId = new Map<number, number>();
  private readonly free: number[] = [];
  private next = 0;

  constructor(readonly capacity: number) {}

  /**
   * Gives every id of the new table a line: the same line as before for known ids, a free one for new
   * ids (`fresh`, to be zeroed), the overflow line when none is free. Ids no longer present give
   * their line back.
   */
  assign(ids: readonly number[]): { slots: Uint32Array; fresh: number[] } {
    const present = new Set(ids);
    for (const [id, slot] of this.byId) {
      if (present.has(id)) continue;
      this.byId.delete(id);
      if (slot < this.capacity) this.free.push(slot);
    }
    const slots = new Uint32Array(ids.length);
    const fresh: number[] = [];
    ids.forEach((id, i) => {
      let slot = this.byId.get(id);
      if (slot === undefined) {
        slot = this.take();
        this.byId.set(id, slot);
        if (slot < this.capacity) fresh.push(slot);
      }
      slots[i] = slot;
    });
    return { slots, fresh };
  }

  slotOf(id: number): number | undefined {
    return this.byId.get(id);
  }

  private take(): number {
    if (this.next < this.capacity) return this.next++;
    return this.free.shift() ?? this.capacity;
  }
}

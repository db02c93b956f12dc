// Stable activity lines for client ids. The native threads count each client's datagrams in a line of
// the shared counters; a client keeps its line across table changes, and a line freed by a departed
// client is reused last (freed lines queue behind never-used ones). Every hand-over of a line to a new
// client has a new generation: the packet thread that writes the line resets it when it takes up the
// table with that generation, so the old client's last counts can never land in the new client's line
// (JavaScript never writes a line, and reads one only once its generation is the client's). Pure logic.

/** The line every client beyond the capacity shares (its index is `capacity`); its generation is 0. */
export class SlotAllocator {
  private readonly byId = new Map<number, { slot: number; generation: number }>();
  private readonly free: number[] = [];
  private next = 0;
  private generation = 0;

  constructor(readonly capacity: number) {}

  /**
   * Gives every id of the new table a line: the same line as before for known ids, a free one for new
   * ids (`fresh`, with a new generation), the overflow line when none is free. Ids no longer present
   * give their line back.
   */
  assign(ids: readonly number[]): { slots: Uint32Array; generations: Uint32Array; fresh: number[] } {
    const present = new Set(ids);
    for (const [id, entry] of this.byId) {
      if (present.has(id)) continue;
      this.byId.delete(id);
      if (entry.slot < this.capacity) this.free.push(entry.slot);
    }
    const slots = new Uint32Array(ids.length);
    const generations = new Uint32Array(ids.length);
    const fresh: number[] = [];
    ids.forEach((id, i) => {
      let entry = this.byId.get(id);
      if (!entry) {
        const slot = this.take();
        entry = { slot, generation: slot < this.capacity ? this.nextGeneration() : 0 };
        this.byId.set(id, entry);
        if (slot < this.capacity) fresh.push(slot);
      }
      slots[i] = entry.slot;
      generations[i] = entry.generation;
    });
    return { slots, generations, fresh };
  }

  slotOf(id: number): number | undefined {
    return this.byId.get(id)?.slot;
  }

  /** The generation of the id's line hand-over (0 for the overflow line); undefined when unknown. */
  generationOf(id: number): number | undefined {
    return this.byId.get(id)?.generation;
  }

  private take(): number {
    if (this.next < this.capacity) return this.next++;
    return this.free.shift() ?? this.capacity;
  }

  /** 1, 2, ... 2^32-1, then 1 again: 0 is a line never handed over (the overflow line, a fresh engine). */
  private nextGeneration(): number {
    this.generation = this.generation >= 0xffffffff ? 1 : this.generation + 1;
    return this.generation;
  }
}

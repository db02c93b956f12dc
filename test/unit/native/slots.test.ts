// Activity lines of the native engine: stable per client id across tables, reused after a client
// leaves, never shared while free lines remain, and an overflow line past the capacity.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlotAllocator } from '../../../reflector/native/slots.js';

describe('SlotAllocator', () => {
  it('keeps a client on its line across tables and marks only new lines fresh', () => {
    const slots = new SlotAllocator(8);
    const first = slots.assign([10, 20, 30]);
    expect([...first.slots]).toEqual([0, 1, 2]);
    expect(first.fresh).toEqual([0, 1, 2]);
    const second = slots.assign([30, 40, 10]);
    expect([...second.slots]).toEqual([2, 3, 0]);
    expect(second.fresh).toEqual([3]);
    expect(slots.slotOf(20)).toBeUndefined();
  });

  it('gives every hand-over of a line a new generation, kept while the client stays; 0 on the overflow line', () => {
    const slots = new SlotAllocator(2);
    const first = slots.assign([10, 20]);
    expect([...first.generations]).toEqual([1, 2]);
    // 20 leaves, 30 takes its line: same line, new generation (its thread resets the line); 40 overflows.
    const second = slots.assign([10, 30, 40]);
    expect([...second.slots]).toEqual([0, 1, 2]);
    expect([...second.generations]).toEqual([1, 3, 0]);
    expect(slots.generationOf(30)).toBe(3);
    expect(slots.generationOf(20)).toBeUndefined();
  });

  it('reuses freed lines only after never-used ones, and overflows past the capacity', () => {
    const slots = new SlotAllocator(3);
    slots.assign([1, 2]);
    const next = slots.assign([2, 3, 4]);
    expect([...next.slots]).toEqual([1, 2, 0]);
    const full = slots.assign([2, 3, 4, 5, 6]);
    expect([...full.slots]).toEqual([1, 2, 0, 3, 3]);
    expect(full.fresh).toEqual([]);
  });

  it('never gives two present clients the same line below the capacity (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 20 }), { maxLength: 30 }), (tables) => {
        const slots = new SlotAllocator(16);
        const kept = new Map<number, number>();
        for (const ids of tables) {
          const { slots: lines } = slots.assign(ids);
          const seen = new Set<number>();
          ids.forEach((id, i) => {
            const line = lines[i]!;
            if (line < 16) {
              expect(seen.has(line)).toBe(false);
              seen.add(line);
            }
            if (kept.has(id)) expect(line).toBe(kept.get(id));
          });
          kept.clear();
          ids.forEach((id, i) => kept.set(id, lines[i]!));
        }
      }),
    );
  });
});

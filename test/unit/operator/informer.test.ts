// The informer against a scripted API server: it lists, follows the watch, re-lists after 410 Gone,
// restarts a silent watch, retries failed lists, resyncs, and releases every watch it opened.
/* eslint-disable @typescript-eslint/require-await -- the fakes implement async interfaces synchronously */
import { afterEach, describe, expect, it } from 'vitest';
import { Informer, type ListWatchSource, type WatchEvent } from '../../../operator/informers/informer.js';
import { waitFor } from '../../support/wait.js';

interface Obj {
  metadata: { name: string; namespace: string; resourceVersion: string };
}

const obj = (name: string, rv: number): Obj => ({ metadata: { name, namespace: 'ns', resourceVersion: String(rv) } });

/** A fake API server: a list answer, and watches the test drives by hand. */
class FakeServer implements ListWatchSource<Obj> {
  readonly name = 'things';
  items: Obj[] = [];
  rv = 1;
  lists = 0;
  failLists = 0;
  watches: { rv: string; onEvent: (e: WatchEvent<Obj>) => void; onDone: (err: unknown) => void; aborted: boolean }[] = [];

  async list() {
    this.lists++;
    if (this.failLists > 0) {
      this.failLists--;
      throw new Error('connection refused');
    }
    return { items: this.items.map((i) => structuredClone(i)), resourceVersion: String(this.rv) };
  }

  async watch(rv: string, onEvent: (e: WatchEvent<Obj>) => void, onDone: (err: unknown) => void) {
    const w = { rv, onEvent, onDone, aborted: false };
    this.watches.push(w);
    return { abort: () => void (w.aborted = true) };
  }

  get current() {
    return this.watches[this.watches.length - 1]!;
  }

  open(): number {
    return this.watches.filter((w) => !w.aborted).length;
  }
}


let informer: Informer<Obj> | undefined;
afterEach(async () => {
  await informer?.stop();
  informer = undefined;
});

function start(server: FakeServer, options: Partial<{ resyncMs: number; silenceMs: number }> = {}) {
  const events: string[] = [];
  informer = new Informer(server, { resyncMs: options.resyncMs ?? 0, silenceMs: options.silenceMs ?? 60_000, backoffInitialMs: 5, backoffMaxMs: 20 });
  informer.onChange((type, o) => events.push(`${type}:${o.metadata.name}`));
  informer.start();
  return { informer, events };
}

describe('Informer', () => {
  it('lists, then follows the watch from the list\'s resource version', async () => {
    const server = new FakeServer();
    server.items = [obj('a', 1)];
    server.rv = 5;
    const { informer, events } = start(server);
    await waitFor(() => server.watches.length === 1, { what: 'a watch', intervalMs: 5, timeoutMs: 2000 });
    expect(informer.hasSynced()).toBe(true);
    expect(server.current.rv).toBe('5');
    server.current.onEvent({ type: 'ADDED', object: obj('b', 6) });
    server.current.onEvent({ type: 'MODIFIED', object: obj('a', 7) });
    server.current.onEvent({ type: 'DELETED', object: obj('b', 8) });
    expect(events).toEqual(['add:a', 'add:b', 'update:a', 'delete:b']);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['a']);
  });

  it('resumes from the last resource version when the server closes the watch', async () => {
    const server = new FakeServer();
    start(server);
    await waitFor(() => server.watches.length === 1, { what: 'a watch', intervalMs: 5, timeoutMs: 2000 });
    server.current.onEvent({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '42' } } });
    server.current.onDone(null);
    await waitFor(() => server.watches.length === 2, { what: 'a second watch', intervalMs: 5, timeoutMs: 2000 });
    expect(server.current.rv).toBe('42');
    expect(server.lists).toBe(1);
  });

  it('lists again after 410 Gone, and reports objects deleted meanwhile', async () => {
    const server = new FakeServer();
    server.items = [obj('a', 1), obj('b', 2)];
    const { events } = start(server);
    await waitFor(() => server.watches.length === 1, { what: 'a watch', intervalMs: 5, timeoutMs: 2000 });
    server.items = [obj('a', 1)];
    server.rv = 100;
    server.current.onEvent({ type: 'ERROR', object: { code: 410, message: 'too old resource version' } });
    await waitFor(() => server.watches.length === 2, { what: 'a watch after the re-list', intervalMs: 5, timeoutMs: 2000 });
    expect(server.lists).toBe(2);
    expect(server.current.rv).toBe('100');
    expect(events).toEqual(['add:a', 'add:b', 'delete:b']);
  });

  it('treats a 410 from the watch request itself the same way', async () => {
    const server = new FakeServer();
    start(server);
    await waitFor(() => server.watches.length === 1, { what: 'a watch', intervalMs: 5, timeoutMs: 2000 });
    server.current.onDone(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await waitFor(() => server.lists === 2, { what: 'a re-list', intervalMs: 5, timeoutMs: 2000 });
  });

  it('restarts a watch that goes silent, and closes the silent one', async () => {
    const server = new FakeServer();
    start(server, { silenceMs: 30 });
    await waitFor(() => server.watches.length >= 2, { what: 'a restarted watch', intervalMs: 5, timeoutMs: 2000 });
    expect(server.watches[0]!.aborted).toBe(true);
    expect(server.open()).toBeLessThanOrEqual(1);
    expect(server.lists).toBe(1);
  });

  it('retries a failing list with backoff until it succeeds', async () => {
    const server = new FakeServer();
    server.failLists = 3;
    const { informer } = start(server);
    await waitFor(() => informer.hasSynced(), { what: 'the first sync', intervalMs: 5, timeoutMs: 2000 });
    expect(server.lists).toBe(4);
  });

  it('keeps going after a watch error', async () => {
    const server = new FakeServer();
    start(server);
    await waitFor(() => server.watches.length === 1, { what: 'a watch', intervalMs: 5, timeoutMs: 2000 });
    server.current.onDone(new Error('socket hang up'));
    await waitFor(() => server.watches.length === 2, { what: 'a new watch', intervalMs: 5, timeoutMs: 2000 });
    expect(server.watches[0]!.aborted).toBe(true);
  });

  it('replays every object on resync', async () => {
    const server = new FakeServer();
    server.items = [obj('a', 1)];
    const { events } = start(server, { resyncMs: 20 });
    await waitFor(() => events.filter((e) => e === 'resync:a').length >= 2, { what: 'two resyncs', intervalMs: 5, timeoutMs: 2000 });
  });

  it('stops: no watch left open, no new one started', async () => {
    const server = new FakeServer();
    const { informer } = start(server);
    await waitFor(() => server.watches.length === 1, { what: 'a watch', intervalMs: 5, timeoutMs: 2000 });
    await informer.stop();
    expect(server.open()).toBe(0);
    await new Promise((r) => setTimeout(r, 30));
    expect(server.watches).toHaveLength(1);
  });

  // Resource versions are opaque strings (never compared for order): these are deliberately not numbers.
  const named = (name: string, rv: string, note = ''): Obj & { note: string } => ({ metadata: { name, namespace: 'ns', resourceVersion: rv }, note });

  it('keeps a just-written object until the watch delivers that write, then follows the watch', async () => {
    const server = new FakeServer();
    server.items = [named('a', 'k7')];
    const { informer } = start(server);
    await waitFor(() => server.watches.length === 1, { what: 'a watch', intervalMs: 5, timeoutMs: 2000 });
    informer.recordWrite(named('a', 'q2', 'written'));
    // A change made before the write, delivered after it: older than what the controller wrote.
    server.current.onEvent({ type: 'MODIFIED', object: named('a', 'zz', 'before the write') });
    expect((informer.get('ns/a') as { note?: string }).note).toBe('written');
    server.current.onEvent({ type: 'MODIFIED', object: named('a', 'q2', 'the write, from the watch') });
    server.current.onEvent({ type: 'MODIFIED', object: named('a', 'b0', 'after the write') });
    expect((informer.get('ns/a') as { note?: string }).note).toBe('after the write');
  });

  it('ignores a recorded write the watch already delivered (and went past)', async () => {
    const server = new FakeServer();
    server.items = [named('a', 'k7')];
    const { informer } = start(server);
    await waitFor(() => server.watches.length === 1, { what: 'a watch', intervalMs: 5, timeoutMs: 2000 });
    server.current.onEvent({ type: 'MODIFIED', object: named('a', 'q2', 'the write, from the watch') });
    server.current.onEvent({ type: 'MODIFIED', object: named('a', 'a1', 'after the write') });
    informer.recordWrite(named('a', 'q2', 'written'));
    expect((informer.get('ns/a') as { note?: string }).note).toBe('after the write');
    server.current.onEvent({ type: 'MODIFIED', object: named('a', 'c3', 'later still') });
    expect((informer.get('ns/a') as { note?: string }).note).toBe('later still');
  });

  it('forgets an awaited write when the object is deleted or listed again', async () => {
    const server = new FakeServer();
    server.items = [named('a', 'k7')];
    const { informer } = start(server);
    await waitFor(() => server.watches.length === 1, { what: 'a watch', intervalMs: 5, timeoutMs: 2000 });
    informer.recordWrite(named('a', 'q2', 'written'));
    server.current.onEvent({ type: 'DELETED', object: named('a', 'x9') });
    expect(informer.get('ns/a')).toBeUndefined();
    server.current.onEvent({ type: 'ADDED', object: named('a', 'y1', 'made again') });
    expect((informer.get('ns/a') as { note?: string }).note).toBe('made again');
  });
});

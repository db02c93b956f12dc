// The Secrets a pass reads (the mesh key, the key set, the admin token) from informer caches instead of
// a GET per Secret per pass. Secrets are many and sensitive, so nothing watches all of them: one
// informer per label selector that finds the ones the operator may use (secret-use.ts): its own
// (generated key, key set) and those that opted in, per purpose. A Secret the caches do not hold (missing,
// not opted in, or made a moment ago) is read from the API: the answer says which, as before; so the
// GET happens only while something is wrong or new.
import type { V1Secret } from '@kubernetes/client-node';
import { ALL_REFLECTORS_SELECTOR, LABEL_MANAGED_BY, LABEL_MESH, MANAGER } from '../controller/labels.js';
import { SECRET_OPT_IN_LABELS } from '../controller/secret-use.js';
import type { Informer, ListWatchSource } from './informer.js';

/** A label selector and the same test on an object's labels (where a recorded write belongs). */
export interface SecretSelector {
  selector: string;
  matches: (labels: Record<string, string>) => boolean;
}

/** The selectors of the Secrets the operator reads: its own, then each opt-in label. */
export const SECRET_SELECTORS: SecretSelector[] = [
  { selector: ALL_REFLECTORS_SELECTOR, matches: (l) => l[LABEL_MANAGED_BY] === MANAGER && l[LABEL_MESH] !== undefined },
  ...Object.values(SECRET_OPT_IN_LABELS).map((label) => ({ selector: `${label}=true`, matches: (l: Record<string, string>) => l[label] === 'true' })),
];

export class SecretCache {
  constructor(private readonly caches: { informer: Informer<V1Secret>; matches: SecretSelector['matches'] }[]) {}

  /** One informer per selector, each over the source `sourceFor` makes for it. */
  static over(sourceFor: (selector: string) => ListWatchSource<V1Secret>, make: (source: ListWatchSource<V1Secret>) => Informer<V1Secret>): SecretCache {
    return new SecretCache(SECRET_SELECTORS.map((s) => ({ informer: make(sourceFor(s.selector)), matches: s.matches })));
  }

  get informers(): Informer<V1Secret>[] {
    return this.caches.map((c) => c.informer);
  }

  hasSynced(): boolean {
    return this.caches.every((c) => c.informer.hasSynced());
  }

  /** The Secret if a cache holds it (undefined: not known here; ask the API). */
  get(namespace: string, name: string): V1Secret | undefined {
    for (const c of this.caches) {
      const found = c.informer.get(`${namespace}/${name}`);
      if (found) return found;
    }
    return undefined;
  }

  /** Records a Secret the controller just wrote in the caches whose selector it matches. */
  recordWrite(secret: V1Secret): void {
    for (const c of this.caches) if (c.matches(secret.metadata?.labels ?? {})) c.informer.recordWrite(secret);
  }
}

// Spellings of one route's path that an HTTP router may take for that route: the attacks of issue 13
// (a guard matching the URL string while the router matches the decoded path). Used by the integration
// test over raw sockets and by the API fuzz test.
import fc from 'fast-check';

export interface PathVariant {
  /** What the variant does, for failure messages. */
  name: string;
  /** The request target as sent. */
  target: string;
  /**
   * True when it is not the route's path by RFC 3986 (an encoded "/", a dot segment): node's parser
   * (400) or the router (404) may refuse it before any route; every other variant must meet the guard.
   */
  mayMiss: boolean;
}

const hex = (c: string) => c.charCodeAt(0).toString(16).padStart(2, '0');

/** Every variant of `path` (no query string) that names the same route, as a host at `authority` sees it. */
export function pathVariants(path: string, authority: string): PathVariant[] {
  const out: PathVariant[] = [];
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    for (const h of new Set([hex(c).toLowerCase(), hex(c).toUpperCase()])) {
      out.push({ name: `character ${i} ("${c}") as %${h}`, target: `${path.slice(0, i)}%${h}${path.slice(i + 1)}`, mayMiss: c === '/' });
    }
  }
  const segments = path.split('/');
  out.push(
    { name: 'every character encoded', target: [...path].map((c) => (c === '/' ? c : `%${hex(c)}`)).join(''), mayMiss: false },
    { name: 'absolute form', target: `http://${authority}${path}`, mayMiss: false },
    { name: 'absolute form, another host', target: `http://attacker.invalid${path}`, mayMiss: false },
    { name: 'absolute form, encoded', target: `http://${authority}${path.replace(/[a-z]/, (c) => `%${hex(c)}`)}`, mayMiss: false },
    { name: 'trailing /', target: `${path}/`, mayMiss: false },
    { name: '; parameter', target: `${path};x=1`, mayMiss: false },
    { name: 'bare ;', target: `${path};`, mayMiss: false },
    { name: 'leading //', target: `/${path}`, mayMiss: false },
    { name: '// inside', target: segments.join('//'), mayMiss: false },
    { name: 'query string', target: `${path}?x=1`, mayMiss: false },
    { name: 'dot segment', target: `${segments.slice(0, -1).join('/')}/./${segments.at(-1)}`, mayMiss: true },
    { name: 'dot-dot segment', target: `${segments.slice(0, -1).join('/')}/x/../${segments.at(-1)}`, mayMiss: true },
  );
  return out;
}

/** Arbitrary spellings of `path`: any subset of its characters percent-encoded, then a suffix or the absolute form. */
export function pathVariantArbitrary(path: string, authority: string): fc.Arbitrary<PathVariant> {
  const chars = [...path];
  return fc
    .tuple(
      fc.array(fc.boolean(), { minLength: chars.length, maxLength: chars.length }),
      fc.boolean(),
      fc.constantFrom('', '/', ';', ';a=b', '?q=1', ';x/'),
      fc.constantFrom('none', 'absolute', 'double-slash'),
    )
    .map(([encode, upper, suffix, form]) => {
      const encoded = chars.map((c, i) => (encode[i] && c !== '/' ? `%${upper ? hex(c).toUpperCase() : hex(c)}` : c)).join('');
      const target = form === 'absolute' ? `http://${authority}${encoded}${suffix}` : form === 'double-slash' ? `/${encoded}${suffix}` : `${encoded}${suffix}`;
      return { name: `${form} ${target}`, target, mayMiss: false };
    });
}

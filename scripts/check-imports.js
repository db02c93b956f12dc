// The import checker of `npm run lint` (docs/architecture.md "Parts"): no import cycle among the
// project's modules, and no part importing another part's internals. It reads every tracked .ts/.js
// file's import and export declarations with the TypeScript parser (no type checking: about a second)
// and resolves the relative ones.
//
//   node scripts/check-imports.js                 # the repository; exit 1 with one line per finding
//   node scripts/check-imports.js --root DIR      # another tree (the unit test plants a cycle in one)
//
// A cycle counts only through imports that exist at run time: `import type` and type-only specifiers
// are erased by the compiler and cannot make a module see another half-initialised. Dynamic import()
// is left out of cycles too (it runs after both modules are loaded) but not out of the boundaries.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const P = path.posix;

/**
 * What each part may import, besides itself and packages. Parts not listed (cli/, bench/, test/,
 * scripts/, configs) compose the others and may import anything.
 */
export const ALLOWED = {
  protocol: [],
  model: ['protocol'],
  client: ['protocol'],
  tools: ['client', 'protocol', 'model'],
  operator: ['protocol', 'model', 'client'],
  reflector: ['protocol', 'model', 'client'],
};

/**
 * Known crossings, each with the reason it is still there. Keep this list short and say what removes
 * each one.
 */
export const EXCEPTIONS = [
  // The package's install script checks the Node version with the CLI's check before anything is
  // built (package.json "install"); it is plain JS that runs from the source tree, not a module of the
  // daemon, and cli/node-support.js is the one reader of engines.node (also run by the rmesh CLI and
  // scripts/with-node.sh, before any TypeScript is built). protocol/ would take it, but it is not the
  // wire contract, and the Dockerfile, the packaged files and with-node.sh name its path.
  { from: 'reflector/native/install.js', to: 'cli/node-support.js' },
];

/** Known cycles, as their sorted modules joined by ' ', each with the reason. None today. */
export const KNOWN_CYCLES = [];

const partOf = (file) => file.split('/')[0];

/** The relative imports of one file: { spec, runtime, dynamic }. */
function importsOf(file, text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, file.endsWith('.js') || file.endsWith('.mjs') ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const found = [];
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      found.push({ spec: node.moduleSpecifier.text, runtime: !typeOnly, dynamic: false });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly =
        node.isTypeOnly || (node.exportClause !== undefined && ts.isNamedExports(node.exportClause) && node.exportClause.elements.length > 0 && node.exportClause.elements.every((e) => e.isTypeOnly));
      found.push({ spec: node.moduleSpecifier.text, runtime: !typeOnly, dynamic: false });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      found.push({ spec: node.arguments[0].text, runtime: true, dynamic: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.filter((i) => i.spec.startsWith('./') || i.spec.startsWith('../'));
}

/** The tracked file an import specifier names (NodeNext: written .js, the source is .ts). */
function resolve(root, from, spec, known) {
  const target = P.normalize(P.join(P.dirname(from), spec));
  const candidates = [target, target.replace(/\.js$/, '.ts'), target.replace(/\.mjs$/, '.mts'), `${target}.ts`, `${target}/index.ts`];
  return candidates.find((c) => known.has(c));
}

/** Cycles (strongly connected components of more than one module, or a module importing itself). */
function cycles(graph) {
  let index = 0;
  const stack = [];
  const onStack = new Set();
  const indices = new Map();
  const low = new Map();
  const found = [];
  const strongConnect = (v) => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), indices.get(w)));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? new Set()).has(v)) found.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) strongConnect(v);
  return found;
}

/** The files under `dir` of a tree that is not a git checkout (the unit test's). */
function walk(root, dir) {
  return readdirSync(P.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.name === 'node_modules' || entry.name === 'dist') return [];
    return entry.isDirectory() ? walk(root, rel) : [rel];
  });
}

/** Every finding of the tree at `root`, as sentences that say what to do. */
export function checkImports(root) {
  const listed = existsSync(P.join(root, '.git'))
    ? execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\0')
    : walk(root, '');
  const files = listed.filter((f) => /\.(ts|mts|js|mjs)$/.test(f) && !f.endsWith('.d.ts') && existsSync(P.join(root, f)));
  const known = new Set(files);
  const graph = new Map();
  const problems = [];
  for (const file of files) {
    const edges = new Set();
    for (const imp of importsOf(file, readFileSync(P.join(root, file), 'utf8'))) {
      const target = resolve(root, file, imp.spec, known);
      if (target === undefined) continue; // a built file (dist/), a data file: not a module of the tree
      if (imp.runtime && !imp.dynamic) edges.add(target);
      const from = partOf(file);
      const to = partOf(target);
      const allowed = ALLOWED[from];
      if (allowed === undefined || from === to || allowed.includes(to)) continue;
      if (EXCEPTIONS.some((e) => e.from === file && e.to === target)) continue;
      problems.push(`${file} imports ${target}: ${from}/ may import only ${[from, ...allowed].map((p) => `${p}/`).join(', ')} (docs/architecture.md); move what both need to protocol/ or model/`);
    }
    graph.set(file, edges);
  }
  for (const cycle of cycles(graph)) {
    if (KNOWN_CYCLES.includes(cycle.join(' '))) continue;
    problems.push(`import cycle: ${cycle.join(' -> ')} -> ${cycle[0]}; break it with an interface the importer owns, or move the shared part out`);
  }
  return problems;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--root');
  const root = at > 0 ? process.argv[at + 1] : process.cwd();
  const problems = checkImports(root);
  for (const p of problems) process.stderr.write(`check-imports: ${p}\n`);
  if (problems.length > 0) process.exit(1);
  process.stdout.write("check-imports: no cycles, no part imports another part's internals\n");
}

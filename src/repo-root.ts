/**
 * repo-root.ts — where the otlpdb checkout is, for code that reads files
 * shipped beside the sources (the .proto files, fixtures, docs) or runs the
 * built CLI. The same code runs from source (tsx, `npx tap src/x.test.ts`)
 * and from `dist/` (`npm test`, the benches), so a path relative to
 * import.meta.url would differ between the two; the package root does not.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** REPO_ROOT_DEPTH_MAX bounds the walk up from this file to the package.json. */
const REPO_ROOT_DEPTH_MAX = 8;

let cached: string | undefined;

/** repoRoot is the directory of otlpdb's package.json above this file, whether it runs from src/ or dist/src/. */
export function repoRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < REPO_ROOT_DEPTH_MAX; depth++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'otlpdb') {
      cached = dir;
      return dir;
    }
    dir = dirname(dir);
  }
  throw new Error('repoRoot: cannot find the otlpdb package.json above this file');
}

/** repoPath is a path inside the checkout, given relative to its root (`repoPath('src', 'otlp', 'proto')`). */
export function repoPath(...parts: readonly string[]): string {
  return join(repoRoot(), ...parts);
}

/**
 * builtCliPath is the compiled `otlpdb` entry point (`dist/cli/otlpdb.js`).
 * Tests and benches spawn it rather than the TypeScript source: a node
 * started through tsx spends about a second and a good deal of CPU
 * compiling on every start. `npm test` builds first; a test run alone needs
 * `npm run build` after a change to the CLI or the node.
 */
export function builtCliPath(): string {
  return repoPath('dist', 'cli', 'otlpdb.js');
}

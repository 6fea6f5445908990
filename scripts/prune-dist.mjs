// prune-dist.mjs — removes compiled files in dist/ whose TypeScript source is
// gone. tsc never deletes its outputs, so a test file deleted or renamed in
// the sources would otherwise still run from dist/ under `npm test`.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
let removed = 0;

function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      walk(path);
      continue;
    }
    const m = /^(.*)\.js(\.map)?$/.exec(entry.name);
    if (m === null) continue;
    const source = join(root, relative(dist, dir), `${m[1]}.ts`);
    if (!existsSync(source)) {
      rmSync(path);
      removed++;
    }
  }
}

if (existsSync(dist)) walk(dist);
if (removed > 0) console.log(`prune-dist: removed ${removed} stale file(s) from dist/`);

import fs from 'node:fs';
import path from 'node:path';

/**
 * Creates `dir` and its missing parents (mode 0700), one level at a time. Node's
 * `mkdirSync(..., { recursive: true })` can loop forever on some virtual file systems (seen
 * with /proc); walking up by hand turns that into an ordinary error.
 */
export function ensureDir(dir: string): void {
  const missing: string[] = [];
  let current = path.resolve(dir);
  for (let depth = 0; depth < 256; depth++) {
    if (fs.existsSync(current)) break;
    missing.push(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  if (fs.existsSync(current) && !fs.statSync(current).isDirectory()) {
    throw new Error(`${current} is not a directory`);
  }
  for (const folder of missing.reverse()) {
    try {
      fs.mkdirSync(folder, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new Error(`cannot create ${folder} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
  }
}

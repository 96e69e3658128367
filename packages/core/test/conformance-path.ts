import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** `../shared/conformance` beside the repository (read in place, never copied in). */
export const CONFORMANCE = path.resolve(
  fileURLToPath(new URL('.', import.meta.url)),
  '../../../../shared/conformance',
);

export function conformanceFiles(folder: string): string[] {
  const root = path.join(CONFORMANCE, folder);
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.json')) out.push(full);
    }
  };
  walk(root);
  return out.sort();
}

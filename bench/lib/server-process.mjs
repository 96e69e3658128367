/**
 * A benchmark server in its own process (lib/http-server.mjs <kind>), so that the load generator
 * in the bench process never shares an event loop with it. Resolves with the JSON line the
 * server prints once listening, plus `alive()`, `exited` and `stop()` (SIGTERM).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function startServer(kind, dir, env = {}) {
  const child = spawn(process.execPath, [path.join(here, 'http-server.mjs'), kind, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = await Promise.race([
    new Promise((resolve) => readline.createInterface({ input: child.stdout }).once('line', resolve)),
    exited.then((how) => {
      throw new Error(`the ${kind} server exited before it was ready (${JSON.stringify(how)})`);
    }),
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`the ${kind} server did not start`)), 60_000),
    ),
  ]);
  let alive = true;
  exited.then(() => {
    alive = false;
  });
  return {
    ...JSON.parse(ready),
    alive: () => alive,
    exited,
    async stop() {
      if (alive) child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * The built CLI and server as child processes, for the suites that test them as a user would
 * (CLI, audit tamper and crash tests): one build lock, one clean environment, one spawner.
 */
import { type ChildProcess, execSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = path.join(REPO, 'packages/server/dist/cli/main.js');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `npx tsc -b`, once at a time across the test files of this folder (they run in parallel
 * workers, and two builds writing the same dist at once could leave a half-written file).
 */
export async function ensureBuilt(): Promise<void> {
  const lock = path.join(os.tmpdir(), `mandate-audit-tests-build-${hashOf(REPO)}.lock`);
  const deadline = Date.now() + 170_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      // A lock whose holder is gone (or older than 3 minutes) belongs to a run that died.
      try {
        const holder = fs.readFileSync(path.join(lock, 'pid'), 'utf8');
        const dead = /^\d+$/.test(holder) && !isAlive(Number(holder));
        if (dead || Date.now() - fs.statSync(lock).mtimeMs > 180_000)
          fs.rmSync(lock, { recursive: true, force: true });
      } catch {
        // gone meanwhile, or its pid file not written yet
      }
      if (Date.now() > deadline) throw new Error(`waited too long for the build lock ${lock}`);
      await sleep(100);
    }
  }
  try {
    execSync('npx tsc -b', { cwd: REPO, stdio: 'pipe', timeout: 150_000 });
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
  expect(fs.existsSync(BIN)).toBe(true);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function hashOf(text: string): string {
  let h = 0;
  for (const c of text) h = (h * 31 + (c.codePointAt(0) as number)) >>> 0;
  return h.toString(16);
}

/** The environment without any MANDATE_* variable of whoever runs the tests. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env))
    if (!name.startsWith('MANDATE_')) env[name] = value;
  return { ...env, NO_COLOR: '1', ...extra };
}

export interface Server {
  proc: ChildProcess;
  url: string;
  dataDir: string;
  /** The admin key printed on the first start of a data dir. */
  adminKey?: string;
  output(): string;
  errors(): string;
  exited: Promise<void>;
  /** SIGTERM (then SIGKILL after 5 s); resolves once the process is gone. */
  stop(): Promise<void>;
  /** SIGKILL now; resolves once the process is gone. */
  kill(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;

/** `mandate serve` on a free port over `dataDir`; resolves once it prints its URL. */
export function startServer(dataDir: string, extraEnv: Record<string, string> = {}): Promise<Server> {
  fs.mkdirSync(dataDir, { recursive: true });
  const proc = spawn(process.execPath, [BIN, 'serve'], {
    cwd: dataDir,
    env: cleanEnv({ MANDATE_PORT: '0', MANDATE_DATA_DIR: dataDir, MANDATE_LOG_LEVEL: 'silent', ...extraEnv }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  const stop = async () => {
    if (gone()) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const kill = async () => {
    if (gone()) return;
    proc.kill('SIGKILL');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      clearInterval(poll);
      proc.off('exit', onExit);
      if (error) {
        void stop().then(() => reject(error));
        return;
      }
      const url = /Listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1] as string;
      const adminKey = /^\s+(mk_key_\S+)$/m.exec(stdout)?.[1];
      resolve({
        proc,
        url,
        dataDir,
        adminKey,
        output: () => stdout,
        errors: () => stderr,
        exited,
        stop,
        kill,
      });
    };
    const onExit = (code: number | null) =>
      done(new Error(`mandate serve exited (${code}) before listening:\n${stdout}\n${stderr}`));
    const timer = setTimeout(
      () =>
        done(new Error(`mandate serve did not listen within ${START_TIMEOUT_MS} ms:\n${stdout}\n${stderr}`)),
      START_TIMEOUT_MS,
    );
    const poll = setInterval(() => {
      if (/Listening on http:\/\/127\.0\.0\.1:\d+\n/.test(stdout)) done();
    }, 20);
    proc.once('exit', onExit);
  });
}

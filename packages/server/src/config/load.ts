import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, ENV_KEYS, type MandateConfig, OTHER_ENV_KEYS } from './schema.js';

/** A configuration problem, worded for one line: which key, what is wrong. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Explicit config file; otherwise `MANDATE_CONFIG`, otherwise `./mandate.yaml` if present. */
  file?: string;
  cwd?: string;
  /** Settings that win over file and environment (CLI flags). */
  overrides?: Partial<MandateConfig>;
}

/** File, then environment, then flags; validated as a whole; errors name the key as the user wrote it. */
export function loadConfig(options: LoadOptions = {}): MandateConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env.MANDATE_CONFIG;
  const file = explicit ? path.resolve(cwd, explicit) : path.join(cwd, 'mandate.yaml');
  const fileLabel = explicit ? explicit : 'mandate.yaml';

  let fromFile: Record<string, unknown> = {};
  if (explicit || fs.existsSync(file)) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(
        `${fileLabel}: cannot read the configuration file (${(error as NodeJS.ErrnoException).code})`,
      );
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (error) {
      const first = (error as Error).message.split('\n')[0]?.replace(/:$/, '');
      throw new ConfigError(`${fileLabel}: not valid YAML (${first})`);
    }
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new ConfigError(`${fileLabel}: must be a mapping of settings`);
    }
    fromFile = (parsed ?? {}) as Record<string, unknown>;
  }

  const fromEnv: Record<string, unknown> = {};
  const envNameOf: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    // An empty variable counts as unset (a shell's `MANDATE_PORT=` must not mean port 0).
    if (!name.startsWith('MANDATE_') || value === undefined || value === '') continue;
    const key = ENV_KEYS[name];
    if (key) {
      fromEnv[key] = value;
      envNameOf[key] = name;
    } else if (!OTHER_ENV_KEYS.includes(name)) {
      throw new ConfigError(`${name}: not a Mandate setting (known: ${Object.keys(ENV_KEYS).join(', ')})`);
    }
  }

  const fromFlags = definedOnly(options.overrides ?? {});
  const merged = { ...fromFile, ...fromEnv, ...fromFlags };
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0] as z.core.$ZodIssue;
    const top = String(issue.path[0] ?? '');
    const where =
      top in fromFlags
        ? `--${kebab(top)}`
        : top in envNameOf
          ? envNameOf[top]
          : `${fileLabel}: ${issue.path.join('.') || '(root)'}`;
    const detail =
      issue.code === 'unrecognized_keys' ? `unknown setting(s) ${issue.keys.join(', ')}` : issue.message;
    throw new ConfigError(`${where}: ${detail}`);
  }
  return result.data;
}

/** `dataDir` → `data-dir`: the flag as the user typed it. */
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function definedOnly(values: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, type LoadOptions, loadConfig } from '@mandate/server';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-config-'));
let cwd: string;
let n = 0;

/** A fresh, empty working directory for each test (no mandate.yaml unless the test writes one). */
beforeEach(() => {
  cwd = path.join(root, `case-${n++}`);
  fs.mkdirSync(cwd);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function write(name: string, text: string): string {
  fs.writeFileSync(path.join(cwd, name), text);
  return name;
}

/** The ConfigError a load throws; fails the test if it loads, or throws anything else. */
function errorOf(options: LoadOptions): ConfigError {
  let config: unknown;
  try {
    config = loadConfig({ env: {}, cwd, ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message, 'a configuration error is one line').not.toContain('\n');
    expect(message.length).toBeGreaterThan(0);
    return error as ConfigError;
  }
  throw new Error(`expected a ConfigError, loaded ${JSON.stringify(config)}`);
}

describe('loadConfig: defaults and precedence', () => {
  it('runs with no configuration at all: port 7070, host 127.0.0.1, dataDir ./.mandate', () => {
    const config = loadConfig({ env: {}, cwd });
    expect(config.port).toBe(7070);
    expect(config.host).toBe('127.0.0.1');
    expect(config.dataDir).toBe('./.mandate');
    expect(config.logLevel).toBe('info');
    expect(config.adminKey).toBeUndefined();
    expect(config.platformKey).toBeUndefined();
    expect(config.databaseUrl).toBeUndefined();
    expect(config.oidc).toEqual([]);
  });

  it('an empty mandate.yaml is the same as none', () => {
    write('mandate.yaml', '');
    expect(loadConfig({ env: {}, cwd })).toEqual(loadConfig({ env: {}, cwd: path.join(cwd, '..') }));
  });

  it('reads ./mandate.yaml from cwd when present', () => {
    write('mandate.yaml', 'port: 8081\nhost: 0.0.0.0\nlogLevel: warn\n');
    const config = loadConfig({ env: {}, cwd });
    expect(config).toMatchObject({ port: 8081, host: '0.0.0.0', logLevel: 'warn', dataDir: './.mandate' });
  });

  it('reads MANDATE_CONFIG, and an explicit file relative to cwd', () => {
    write('other.yaml', 'port: 8082\n');
    expect(loadConfig({ env: { MANDATE_CONFIG: 'other.yaml' }, cwd }).port).toBe(8082);
    expect(loadConfig({ env: {}, cwd, file: 'other.yaml' }).port).toBe(8082);
  });

  it('the explicit file wins over MANDATE_CONFIG and over ./mandate.yaml', () => {
    write('mandate.yaml', 'port: 8001\n');
    write('env.yaml', 'port: 8002\n');
    write('flag.yaml', 'port: 8003\n');
    expect(loadConfig({ env: { MANDATE_CONFIG: 'env.yaml' }, cwd }).port).toBe(8002);
    expect(loadConfig({ env: { MANDATE_CONFIG: 'env.yaml' }, cwd, file: 'flag.yaml' }).port).toBe(8003);
  });

  it('environment overrides the file; flags override the environment', () => {
    write('mandate.yaml', 'port: 8001\nhost: file.example\ndataDir: /from/file\nlogLevel: warn\n');
    const env = { MANDATE_PORT: '8002', MANDATE_HOST: 'env.example' };
    const fromEnv = loadConfig({ env, cwd });
    expect(fromEnv).toMatchObject({
      port: 8002,
      host: 'env.example',
      dataDir: '/from/file',
      logLevel: 'warn',
    });

    const fromFlags = loadConfig({ env, cwd, overrides: { port: 8003, dataDir: '/from/flag' } });
    expect(fromFlags).toMatchObject({
      port: 8003,
      host: 'env.example',
      dataDir: '/from/flag',
      logLevel: 'warn',
    });
  });

  it('flags left undefined do not hide the environment or the file', () => {
    write('mandate.yaml', 'dataDir: /from/file\n');
    const config = loadConfig({
      env: { MANDATE_PORT: '8002' },
      cwd,
      overrides: { port: undefined, host: undefined, dataDir: undefined },
    });
    expect(config).toMatchObject({ port: 8002, host: '127.0.0.1', dataDir: '/from/file' });
  });

  it('every MANDATE_* setting is read and coerced', () => {
    const config = loadConfig({
      cwd,
      env: {
        MANDATE_PORT: '0',
        MANDATE_HOST: '::1',
        MANDATE_DATA_DIR: '/data',
        MANDATE_ADMIN_KEY: 'a'.repeat(24),
        MANDATE_PLATFORM_KEY: 'p'.repeat(32),
        MANDATE_LOG_LEVEL: 'silent',
        MANDATE_BODY_LIMIT_BYTES: '2048',
        MANDATE_EXPIRY_SWEEP_MS: '5000',
        MANDATE_GROUP_COMMIT_MAX_BATCH: '10',
        MANDATE_GROUP_COMMIT_MAX_WAIT_MS: '5',
      },
    });
    expect(config).toMatchObject({
      port: 0,
      host: '::1',
      dataDir: '/data',
      adminKey: 'a'.repeat(24),
      platformKey: 'p'.repeat(32),
      logLevel: 'silent',
      bodyLimitBytes: 2048,
      expirySweepMs: 5000,
      groupCommitMaxBatch: 10,
      groupCommitMaxWaitMs: 5,
    });
  });

  it('ignores variables that are not MANDATE_*, and accepts the CLI-only MANDATE_URL/MANDATE_KEY', () => {
    const config = loadConfig({
      cwd,
      env: { PATH: '/bin', PORT: 'abc', MANDATE_URL: 'http://x', MANDATE_KEY: 'k' },
    });
    expect(config.port).toBe(7070);
  });

  it('accepts a well-formed OIDC issuer with exactly one of jwksUri and jwksFile', () => {
    write(
      'mandate.yaml',
      [
        'oidc:',
        '  - issuer: https://idp.example.com',
        '    audience: mandate',
        '    jwksUri: https://idp.example.com/jwks',
        '  - issuer: https://other.example.com',
        '    audience: [a, b]',
        '    jwksFile: ./jwks.json',
        '',
      ].join('\n'),
    );
    const config = loadConfig({ env: {}, cwd });
    expect(config.oidc).toHaveLength(2);
    expect(config.oidc[0]?.jwksUri).toBe('https://idp.example.com/jwks');
    expect(config.oidc[1]?.jwksFile).toBe('./jwks.json');
  });
});

describe('loadConfig: each bad value names its key, in one line', () => {
  it('MANDATE_PORT=abc', () => {
    expect(errorOf({ env: { MANDATE_PORT: 'abc' } }).message).toMatch(/^MANDATE_PORT: /);
  });

  it('MANDATE_PORT=70000 (out of range)', () => {
    expect(errorOf({ env: { MANDATE_PORT: '70000' } }).message).toMatch(/^MANDATE_PORT: /);
  });

  it('MANDATE_PORT=-1 and MANDATE_PORT=1.5', () => {
    expect(errorOf({ env: { MANDATE_PORT: '-1' } }).message).toMatch(/^MANDATE_PORT: /);
    expect(errorOf({ env: { MANDATE_PORT: '1.5' } }).message).toMatch(/^MANDATE_PORT: /);
  });

  it('an empty MANDATE_PORT is not silently port 0', () => {
    let port: number;
    try {
      port = loadConfig({ env: { MANDATE_PORT: '' }, cwd }).port;
    } catch (error) {
      expect((error as Error).message).toMatch(/^MANDATE_PORT: /);
      return;
    }
    expect(port).toBe(7070);
  });

  it('MANDATE_LOG_LEVEL=loud', () => {
    const message = errorOf({ env: { MANDATE_LOG_LEVEL: 'loud' } }).message;
    expect(message).toMatch(/^MANDATE_LOG_LEVEL: /);
    expect(message).toContain('info');
  });

  it('MANDATE_ADMIN_KEY too short', () => {
    const message = errorOf({ env: { MANDATE_ADMIN_KEY: 'short' } }).message;
    expect(message).toMatch(/^MANDATE_ADMIN_KEY: /);
    expect(message).toContain('24');
    expect(message, 'the key itself is not echoed').not.toContain('short');
  });

  it('MANDATE_PLATFORM_KEY too short', () => {
    expect(errorOf({ env: { MANDATE_PLATFORM_KEY: 'x'.repeat(23) } }).message).toMatch(
      /^MANDATE_PLATFORM_KEY: /,
    );
  });

  it('MANDATE_BODY_LIMIT_BYTES below its minimum', () => {
    expect(errorOf({ env: { MANDATE_BODY_LIMIT_BYTES: '10' } }).message).toMatch(
      /^MANDATE_BODY_LIMIT_BYTES: /,
    );
  });

  it('an unknown MANDATE_PROT names MANDATE_PROT (a typo must not be ignored)', () => {
    const message = errorOf({ env: { MANDATE_PROT: '8080' } }).message;
    expect(message).toMatch(/^MANDATE_PROT: /);
    expect(message).toContain('MANDATE_PORT');
  });

  it('MANDATE_DATABASE_URL set → a clear "not available" message', () => {
    const message = errorOf({ env: { MANDATE_DATABASE_URL: 'postgres://u:p@localhost/db' } }).message;
    expect(message).toMatch(/^MANDATE_DATABASE_URL: /);
    expect(message).toContain('not available');
    expect(message, 'the URL (with its password) is not echoed').not.toContain('u:p@');
  });

  it('databaseUrl in the file names the file and the key', () => {
    write('mandate.yaml', 'databaseUrl: postgres://localhost/db\n');
    const message = errorOf({}).message;
    expect(message).toMatch(/^mandate\.yaml: databaseUrl: /);
    expect(message).toContain('not available');
  });

  it('mandate.yaml with an unknown key names the key', () => {
    write('mandate.yaml', 'port: 8080\nprot: 8081\n');
    const message = errorOf({}).message;
    expect(message).toMatch(/^mandate\.yaml: /);
    expect(message).toContain('prot');
  });

  it('mandate.yaml with port: "x" names mandate.yaml and port', () => {
    write('mandate.yaml', 'port: "x"\n');
    expect(errorOf({}).message).toMatch(/^mandate\.yaml: port: /);
  });

  it('a bad file value is blamed on the file even when the flag was not given (overrides: undefined)', () => {
    write('mandate.yaml', 'port: "x"\n');
    expect(errorOf({ overrides: { port: undefined } }).message).toMatch(/^mandate\.yaml: port: /);
  });

  it('a bad value given by flag names the flag', () => {
    expect(errorOf({ overrides: { port: 70000 } }).message).toMatch(/^--port: /);
  });

  it('a bad flag beats a good environment value and is named as the flag', () => {
    expect(errorOf({ env: { MANDATE_PORT: '8080' }, overrides: { port: 70000 } }).message).toMatch(
      /^--port: /,
    );
  });

  it('a bad environment value beats a good file value and is named as the variable', () => {
    write('mandate.yaml', 'port: 8080\n');
    expect(errorOf({ env: { MANDATE_PORT: 'abc' } }).message).toMatch(/^MANDATE_PORT: /);
  });

  it('an explicit file names itself', () => {
    write('custom.yaml', 'logLevel: loud\n');
    expect(errorOf({ file: 'custom.yaml' }).message).toMatch(/^custom\.yaml: logLevel: /);
  });

  it('invalid YAML', () => {
    write('mandate.yaml', 'port: [1\n  x: : y\n');
    const message = errorOf({}).message;
    expect(message).toMatch(/^mandate\.yaml: /);
    expect(message).toContain('YAML');
  });

  it('a YAML list instead of a mapping', () => {
    write('mandate.yaml', '- port: 8080\n- host: 0.0.0.0\n');
    const message = errorOf({}).message;
    expect(message).toMatch(/^mandate\.yaml: /);
    expect(message).toContain('mapping');
  });

  it('a YAML scalar instead of a mapping', () => {
    write('mandate.yaml', 'just a string\n');
    expect(errorOf({}).message).toMatch(/^mandate\.yaml: .*mapping/);
  });

  it('a missing explicit file (option)', () => {
    const message = errorOf({ file: 'nope.yaml' }).message;
    expect(message).toMatch(/^nope\.yaml: /);
    expect(message).toContain('ENOENT');
  });

  it('a missing explicit file (MANDATE_CONFIG)', () => {
    expect(errorOf({ env: { MANDATE_CONFIG: 'missing.yaml' } }).message).toMatch(/^missing\.yaml: .*ENOENT/);
  });

  it('an OIDC issuer with both jwksUri and jwksFile', () => {
    write(
      'mandate.yaml',
      'oidc:\n  - issuer: https://idp.example.com\n    audience: mandate\n    jwksUri: https://idp.example.com/jwks\n    jwksFile: ./jwks.json\n',
    );
    const message = errorOf({}).message;
    expect(message).toMatch(/^mandate\.yaml: oidc\.0/);
    expect(message).toContain('jwksUri');
    expect(message).toContain('jwksFile');
  });

  it('an OIDC issuer with neither jwksUri nor jwksFile', () => {
    write('mandate.yaml', 'oidc:\n  - issuer: https://idp.example.com\n    audience: mandate\n');
    const message = errorOf({}).message;
    expect(message).toMatch(/^mandate\.yaml: oidc\.0/);
    expect(message).toContain('jwksUri');
    expect(message).toContain('jwksFile');
  });

  it('an OIDC issuer with an unknown key names the key', () => {
    write(
      'mandate.yaml',
      'oidc:\n  - issuer: https://idp.example.com\n    audience: mandate\n    jwksUri: https://idp.example.com/jwks\n    jwks_uri: x\n',
    );
    const message = errorOf({}).message;
    expect(message).toMatch(/^mandate\.yaml: oidc\.0/);
    expect(message).toContain('jwks_uri');
  });

  it('an OIDC issuer that is not a URL', () => {
    write('mandate.yaml', 'oidc:\n  - issuer: not a url\n    audience: mandate\n    jwksFile: ./jwks.json\n');
    expect(errorOf({}).message).toMatch(/^mandate\.yaml: oidc\.0\.issuer: /);
  });
});

describe('configured keys', () => {
  it('refuses a MANDATE_ADMIN_KEY shaped like a stored key, which could never authenticate', () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-config-'));
    expect(() => loadConfig({ env: { MANDATE_ADMIN_KEY: `mk_${'x'.repeat(40)}` }, cwd })).toThrow(
      /^MANDATE_ADMIN_KEY: must not start with mk_/,
    );
    expect(() => loadConfig({ env: { MANDATE_PLATFORM_KEY: `mpk_${'x'.repeat(40)}` }, cwd })).toThrow(
      /^MANDATE_PLATFORM_KEY: /,
    );
  });
});

describe('the policy engine switch', () => {
  it('is compiled by default; MANDATE_POLICY_ENGINE=cedar-wasm switches back to the reference engine', () => {
    expect(loadConfig({ env: {}, cwd }).policyEngine).toBe('compiled');
    expect(loadConfig({ env: { MANDATE_POLICY_ENGINE: 'cedar-wasm' }, cwd }).policyEngine).toBe('cedar-wasm');
  });

  it('an unknown engine is refused, naming the variable', () => {
    expect(errorOf({ env: { MANDATE_POLICY_ENGINE: 'fast' } }).message).toMatch(/^MANDATE_POLICY_ENGINE/);
  });

  it('openEngine applies it to every policy set parsed after it', async () => {
    const { openEngine } = await import('../src/runtime/open-engine.js');
    const { getDefaultPolicyEngine, PolicyEvaluator } = await import('@mandate/engine');
    const before = getDefaultPolicyEngine();
    try {
      for (const policyEngine of ['cedar-wasm', 'compiled'] as const) {
        const config = loadConfig({
          env: { MANDATE_POLICY_ENGINE: policyEngine, MANDATE_DATA_DIR: cwd },
          cwd,
        });
        const { engine } = openEngine(config);
        try {
          expect(new PolicyEvaluator('permit (principal, action, resource);').engine).toBe(policyEngine);
        } finally {
          await engine.store.close();
        }
      }
    } finally {
      const { setDefaultPolicyEngine } = await import('@mandate/engine');
      setDefaultPolicyEngine(before);
    }
  });
});

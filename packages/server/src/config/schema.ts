import { ROLES } from '@mandate/core';
import { z } from 'zod';

const MiB = 1024 * 1024;

const oidcIssuer = z.strictObject({
  issuer: z.url(),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  jwksUri: z.url().optional(),
  jwksFile: z.string().min(1).optional(),
  orgId: z.string().optional(),
  rolesClaim: z.string().min(1).optional(),
  roleMap: z.record(z.string(), z.enum(ROLES)).optional(),
});

/**
 * A key given in configuration: long enough, and not shaped like a stored key (`mk_…`,
 * `mpk_…`), which would be looked up in the database instead and so never work.
 */
const envKey = z
  .string()
  .min(24, 'must be at least 24 characters')
  .refine(
    (value) => !/^mp?k_/.test(value),
    'must not start with mk_ or mpk_ (those are stored keys); use any other random string',
  );

/** Every setting, its default, and its limits. Defaults run Mandate with no configuration. */
export const configSchema = z
  .strictObject({
    /** The MCP gateway's section: read and validated by `mandate mcp-gateway` (its own schema). */
    mcpGateway: z.unknown().optional(),
    port: z.coerce.number().int().min(0).max(65535).default(7070),
    host: z.string().min(1).default('127.0.0.1'),
    dataDir: z.string().min(1).default('./.mandate'),
    adminKey: envKey.optional(),
    platformKey: envKey.optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    databaseUrl: z.string().optional(),
    bodyLimitBytes: z.coerce
      .number()
      .int()
      .min(1024)
      .max(64 * MiB)
      .default(MiB),
    expirySweepMs: z.coerce.number().int().min(1000).max(86_400_000).default(60_000),
    groupCommitMaxBatch: z.coerce.number().int().min(1).max(10_000).default(256),
    groupCommitMaxWaitMs: z.coerce.number().int().min(0).max(1000).default(0),
    checkpointIntervalMs: z.coerce.number().int().min(100).max(3_600_000).default(1000),
    logOrigin: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'letters, digits and . _ / - only')
      .max(200)
      .default('mandate'),
    oidc: z.array(oidcIssuer).default([]),
    /** The URL clients reach this server at: the token issuer, and what DPoP proofs name. */
    publicUrl: z
      .url()
      .refine(
        (value) => /^https?:\/\//.test(value) && !/[?#]/.test(value),
        'an http(s) URL without query or fragment',
      )
      .optional(),
    /** 32 bytes (base64url or hex) sealing the token signing keys; else a key file in dataDir. */
    masterKey: z.string().min(1).optional(),
    tokenTtlSeconds: z.coerce.number().int().min(10).max(3600).default(300),
    /** `compiled` (default) or `cedar-wasm`: the reference engine for every request. */
    policyEngine: z.enum(['compiled', 'cedar-wasm']).default('compiled'),
  })
  .superRefine((config, ctx) => {
    if (config.databaseUrl !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['databaseUrl'],
        message: 'PostgreSQL is not available in this version yet; unset it to use the embedded SQLite store',
      });
    }
    config.oidc.forEach((issuer, i) => {
      if ((issuer.jwksUri === undefined) === (issuer.jwksFile === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['oidc', i, 'jwksUri'],
          message: 'give exactly one of jwksUri and jwksFile',
        });
      }
    });
  });

export type MandateConfig = z.infer<typeof configSchema>;

/** `MANDATE_*` variables and the setting each one sets. */
export const ENV_KEYS: Record<string, keyof MandateConfig> = {
  MANDATE_PORT: 'port',
  MANDATE_HOST: 'host',
  MANDATE_DATA_DIR: 'dataDir',
  MANDATE_ADMIN_KEY: 'adminKey',
  MANDATE_PLATFORM_KEY: 'platformKey',
  MANDATE_LOG_LEVEL: 'logLevel',
  MANDATE_DATABASE_URL: 'databaseUrl',
  MANDATE_BODY_LIMIT_BYTES: 'bodyLimitBytes',
  MANDATE_EXPIRY_SWEEP_MS: 'expirySweepMs',
  MANDATE_GROUP_COMMIT_MAX_BATCH: 'groupCommitMaxBatch',
  MANDATE_GROUP_COMMIT_MAX_WAIT_MS: 'groupCommitMaxWaitMs',
  MANDATE_CHECKPOINT_INTERVAL_MS: 'checkpointIntervalMs',
  MANDATE_LOG_ORIGIN: 'logOrigin',
  MANDATE_PUBLIC_URL: 'publicUrl',
  MANDATE_MASTER_KEY: 'masterKey',
  MANDATE_TOKEN_TTL_SECONDS: 'tokenTtlSeconds',
  MANDATE_POLICY_ENGINE: 'policyEngine',
};

/** Variables that are not server settings but are ours (the CLI's, the config file's path). */
export const OTHER_ENV_KEYS = ['MANDATE_CONFIG', 'MANDATE_URL', 'MANDATE_KEY'];

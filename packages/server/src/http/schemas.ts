import { AGENT_STATUSES, DATA_CLASSES, isActionPattern, isResourcePattern, ROLES } from '@mandate/core';
import { z } from 'zod';

/** Request schemas shared by routes. Strict objects: an unknown field is a 400, not ignored. */
export const id = (prefix: string) =>
  z.string().regex(new RegExp(`^${prefix}_[0-9A-Z]{26}$`), `must be an id starting with ${prefix}_`);

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
};

const token = z
  .string()
  .min(1)
  .max(64)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]*$/,
    'letters, digits and . _ : - only, starting with a letter or digit',
  );

export const label = token;
export const environment = token;
export const reason = z.string().trim().min(1).max(1000);

const boundaryFields = {
  actions: z
    .array(z.string().refine(isActionPattern, 'not an action pattern (name, name.*, or *)'))
    .min(1)
    .max(100),
  resources: z
    .array(z.string().refine(isResourcePattern, 'not a resource pattern (type:path, type:path/*, or *)'))
    .min(1)
    .max(100),
  maxDataClass: z.enum(DATA_CLASSES),
  maxCredentialTtlSeconds: z.int().min(60).max(86_400),
  maxDelegationDepth: z.int().min(0).max(10),
};

/** At registration: the patterns are required, the rest has safe defaults. */
export const boundaries = z.strictObject({
  ...boundaryFields,
  maxDataClass: boundaryFields.maxDataClass.default('internal'),
  maxCredentialTtlSeconds: boundaryFields.maxCredentialTtlSeconds.default(3600),
  maxDelegationDepth: boundaryFields.maxDelegationDepth.default(0),
});

/** On update: the whole ceiling, every field given, so that nothing widens by default. */
export const boundariesReplacement = z.strictObject(boundaryFields);

export const metadata = z
  .record(z.string().min(1).max(64), z.union([z.string().max(1024), z.number(), z.boolean()]))
  .refine((value) => Object.keys(value).length <= 32, 'at most 32 entries');

export const isoDateTime = z.iso.datetime({ offset: true });

export const agentStatus = z.enum(AGENT_STATUSES);
export const role = z.enum(ROLES);
export const roles = z.array(role).min(1).max(ROLES.length);
export const description = z.string().max(2000);

const argumentValue = z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]);
const argumentConstraint = z
  .strictObject({
    eq: argumentValue.optional(),
    in: z.array(argumentValue).min(1).max(100).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    prefix: z.string().max(1024).optional(),
    suffix: z.string().max(1024).optional(),
    maxLength: z.int().min(0).max(1_000_000).optional(),
  })
  .refine((c) => Object.keys(c).length > 0, 'a constraint needs at least one operator');
const actionPattern = z.string().refine(isActionPattern, 'not an action pattern (name, name.*, or *)');
const resourcePattern = z
  .string()
  .refine(isResourcePattern, 'not a resource pattern (type:path, type:path/*, or *)');

const scopeLimits = z.strictObject({
  maxUses: z.int().min(1).optional(),
  ratePerMinute: z.int().min(1).optional(),
  budget: z.strictObject({ argument: z.string().min(1).max(64), max: z.number().min(0) }).optional(),
});
const scopeArguments = z
  .record(actionPattern, z.record(z.string().min(1).max(64), argumentConstraint))
  .refine((value) => Object.keys(value).length <= 50, 'at most 50 action entries');

/** Every dimension of a scope, each optional: what a narrowing request may name. */
const scopeFields = {
  actions: z.array(actionPattern).min(1).max(100).optional(),
  resources: z.array(resourcePattern).min(1).max(100).optional(),
  dataClass: z.enum(DATA_CLASSES).optional(),
  environments: z.array(environment).max(16).optional(),
  arguments: scopeArguments.optional(),
  limits: scopeLimits.optional(),
  notBefore: isoDateTime.optional(),
  expiresAt: isoDateTime.optional(),
  maxDepth: z.int().min(0).max(10).optional(),
  requireApproval: z.array(actionPattern).max(100).optional(),
};

/** A delegation's scope as a client asks for it (core `Scope`); minimum authority by default. */
export const scope = z.strictObject({
  ...scopeFields,
  actions: z.array(actionPattern).min(1).max(100),
  resources: z.array(resourcePattern).min(1).max(100),
  dataClass: z.enum(DATA_CLASSES).default('public'),
  expiresAt: isoDateTime,
  maxDepth: z.int().min(0).max(10).default(0),
});

/** A re-delegation's scope: every dimension left out is inherited from the parent unchanged. */
export const narrowedScope = z.strictObject(scopeFields);

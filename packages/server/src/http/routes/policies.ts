import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';
import { pageQuery, reason } from '../schemas.js';

/** A version number: digits only (no blank, sign, exponent or hex that Number() would accept). */
const versionNumber = z
  .string()
  .regex(/^\d{1,9}$/, 'a version number')
  .transform(Number);
const versionParams = z.strictObject({ version: versionNumber });
const policyText = z
  .string()
  .min(1)
  .max(512 * 1024);
const publishBody = z.strictObject({
  policies: policyText,
  schema: z
    .string()
    .min(1)
    .max(512 * 1024)
    .optional(),
  note: z.string().max(1000).optional(),
});

/** The org's Cedar policy set: publish a version (validated), list, show, diff, activate. */
export const policyRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'POST',
    url: '/v1/policies',
    operationId: 'publishPolicies',
    summary:
      'Publish a new version of the Cedar policy set and make it active (refused with Cedar’s messages when ' +
      'it does not parse or, with a schema, does not validate; the active version is then unchanged)',
    tag: 'policies',
    auth: 'org',
    status: 201,
    body: publishBody,
    handler: async ({ principal, body }) => engine.policies.publish(principal, body),
  }),
  route({
    method: 'POST',
    url: '/v1/policies/validate',
    operationId: 'validatePolicies',
    summary: 'Check a policy set (and schema) as publishing would, without publishing it',
    tag: 'policies',
    auth: 'org',
    body: publishBody,
    handler: async ({ principal, body }) => engine.policies.validate(principal, body),
  }),
  route({
    method: 'GET',
    url: '/v1/policies',
    operationId: 'listPolicies',
    summary: 'List the policy versions (version 0 is the built-in baseline) and which is active',
    tag: 'policies',
    auth: 'org',
    query: z.strictObject(pageQuery),
    handler: async ({ principal, query }) =>
      engine.policies.list(principal, { limit: query.limit, after: query.cursor }),
  }),
  route({
    method: 'GET',
    url: '/v1/policies/:version',
    operationId: 'getPolicies',
    summary: 'Show one policy version, its text and hash',
    tag: 'policies',
    auth: 'org',
    params: versionParams,
    handler: async ({ principal, params }) => engine.policies.get(principal, params.version),
  }),
  route({
    method: 'GET',
    url: '/v1/policies/:version/diff',
    operationId: 'diffPolicies',
    summary: 'A unified diff from another version (?against=N, default the one before) to this one',
    tag: 'policies',
    auth: 'org',
    params: versionParams,
    query: z.strictObject({ against: versionNumber.optional() }),
    handler: async ({ principal, params, query }) =>
      engine.policies.diff(principal, query.against ?? Math.max(0, params.version - 1), params.version),
  }),
  route({
    method: 'POST',
    url: '/v1/policies/:version/activate',
    operationId: 'activatePolicies',
    summary: 'Make an earlier (or the baseline, 0) version the active one again',
    tag: 'policies',
    auth: 'org',
    params: versionParams,
    body: z.strictObject({ reason }),
    handler: async ({ principal, params, body }) =>
      engine.policies.activate(principal, params.version, body.reason),
  }),
];

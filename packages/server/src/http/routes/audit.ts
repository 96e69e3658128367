import { Readable } from 'node:stream';
import { type AuditRecord, toBase64 } from '@mandate/core';
import { exportCanonical, requirePermission, toOcsf } from '@mandate/engine';
import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';
import { isoDateTime, pageQuery } from '../schemas.js';

export const auditRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'GET',
    url: '/v1/audit/events',
    operationId: 'listAuditEvents',
    summary: "The org's audit events in sequence order, with filters",
    tag: 'audit',
    auth: 'org',
    query: z.strictObject({
      ...pageQuery,
      type: z.string().max(64).optional(),
      agent: z.string().max(64).optional(),
      user: z.string().max(64).optional(),
      delegation: z.string().max(64).optional(),
      decision: z.string().max(64).optional(),
      since: isoDateTime.optional(),
      until: isoDateTime.optional(),
      cursor: z
        .string()
        .regex(/^\d{1,15}$/, 'must be a sequence number')
        .optional(),
    }),
    handler: async ({ principal, query }) =>
      engine.auditReader.list(
        principal,
        {
          type: query.type,
          agentId: query.agent,
          userId: query.user,
          delegationId: query.delegation,
          decisionId: query.decision,
          since: query.since ? new Date(query.since).toISOString() : undefined,
          until: query.until ? new Date(query.until).toISOString() : undefined,
        },
        { limit: query.limit, after: query.cursor },
      ),
  }),
  route({
    method: 'GET',
    url: '/v1/audit/events/:seq',
    operationId: 'getAuditEvent',
    summary: 'One audit event by sequence number',
    tag: 'audit',
    auth: 'org',
    params: z.strictObject({
      seq: z
        .string()
        .regex(/^\d{1,15}$/, 'must be a sequence number')
        .transform(Number),
    }),
    handler: async ({ principal, params }) => engine.auditReader.get(principal, params.seq),
  }),
];

const seqParam = z.strictObject({
  seq: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a sequence number')
    .transform(Number),
});
const seqNumber = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a whole number')
  .transform(Number);

/** Checkpoints, proofs, export and provenance (issue: tamper-evident audit log). */
export const auditLogRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'GET',
    url: '/v1/audit/checkpoint',
    operationId: 'getCheckpoint',
    summary: 'The latest signed checkpoint (C2SP tlog-checkpoint in a signed note), as text/plain',
    tag: 'audit',
    auth: 'org',
    produces: 'text/plain; charset=utf-8',
    handler: async ({ principal }) => engine.proofs.checkpoint(principal),
  }),
  route({
    method: 'POST',
    url: '/v1/audit/checkpoint',
    operationId: 'signCheckpoint',
    summary: 'Sign a checkpoint now if the log grew; answers the latest checkpoint',
    tag: 'audit',
    auth: 'org',
    produces: 'text/plain; charset=utf-8',
    handler: async ({ principal }) => engine.proofs.checkpoint(principal),
  }),
  route({
    method: 'GET',
    url: '/v1/audit/verifier-key',
    operationId: 'getVerifierKey',
    summary: "The signed-note verifier key of this org's log (<name>+<key hash>+<base64 key>)",
    tag: 'audit',
    auth: 'org',
    produces: 'text/plain; charset=utf-8',
    handler: async ({ principal }) => `${engine.proofs.verifierKey(principal)}\n`,
  }),
  route({
    method: 'GET',
    url: '/v1/audit/checkpoints',
    operationId: 'listCheckpoints',
    summary: 'Every signed checkpoint, by size',
    tag: 'audit',
    auth: 'org',
    query: z.strictObject({ ...pageQuery, cursor: seqNumber.optional() }),
    handler: async ({ principal, query }) => {
      requirePermission(principal, 'audit.read');
      const page = await engine.store
        .org(principal.orgId)
        .listCheckpoints({ limit: query.limit, after: query.cursor?.toString() });
      return { ...page, items: page.items.map(({ size, note, signedAt }) => ({ size, note, signedAt })) };
    },
  }),
  route({
    method: 'GET',
    url: '/v1/audit/events/:seq/proof',
    operationId: 'getInclusionProof',
    summary: 'Inclusion proof of one record against the latest checkpoint',
    tag: 'audit',
    auth: 'org',
    params: seqParam,
    handler: async ({ principal, params }) => engine.proofs.inclusion(principal, params.seq),
  }),
  route({
    method: 'GET',
    url: '/v1/audit/consistency',
    operationId: 'getConsistencyProof',
    summary: 'Consistency proof between two log sizes (to: default the latest checkpoint)',
    tag: 'audit',
    auth: 'org',
    query: z.strictObject({ from: seqNumber, to: seqNumber.optional() }),
    handler: async ({ principal, query }) => engine.proofs.consistency(principal, query.from, query.to),
  }),
  route({
    method: 'GET',
    url: '/v1/audit/leaves',
    operationId: 'listLeafHashes',
    summary: 'Stored leaf hashes (base64) from a sequence number on, for verifiers that pinpoint tampering',
    tag: 'audit',
    auth: 'org',
    query: z.strictObject({
      from: seqNumber.default(0),
      limit: z.coerce.number().int().min(1).max(10_000).default(1000),
    }),
    handler: async ({ principal, query }) => {
      requirePermission(principal, 'audit.read');
      const hashes = await engine.store.org(principal.orgId).listLeafHashes(query.from, query.limit);
      return { from: query.from, items: hashes.map(toBase64) };
    },
  }),
  route({
    method: 'GET',
    url: '/v1/audit/export',
    operationId: 'exportAudit',
    summary: 'The log as JSON Lines (canonical records) or OCSF API Activity events, streamed from a seq on',
    tag: 'audit',
    auth: 'org',
    produces: 'application/x-ndjson',
    query: z.strictObject({ format: z.enum(['jsonl', 'ocsf']).default('jsonl'), from: seqNumber.default(0) }),
    handler: async ({ principal, query, reply }) => {
      requirePermission(principal, 'audit.read');
      const origin = engine.checkpoints.origin(principal.orgId);
      const records = exportCanonical(engine, principal, query.from);
      async function* lines() {
        for await (const { canonical } of records) {
          yield query.format === 'jsonl'
            ? `${canonical}\n`
            : `${JSON.stringify(toOcsf(JSON.parse(canonical) as AuditRecord, origin))}\n`;
        }
      }
      reply.header('content-disposition', `attachment; filename="audit-${principal.orgId}.${query.format}"`);
      return Readable.from(lines());
    },
  }),
  route({
    method: 'GET',
    url: '/v1/audit/explain/:seq',
    operationId: 'explainAuditEvent',
    summary: 'Provenance of a record: the records it depends on, each with its inclusion proof',
    tag: 'audit',
    auth: 'org',
    params: seqParam,
    handler: async ({ principal, params }) => engine.explainer.explain(principal, params.seq),
  }),
];

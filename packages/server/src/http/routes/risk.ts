import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { route } from '../route.js';

const hours = z.strictObject({
  timeZone: z.string().min(1).max(64),
  days: z.array(z.int().min(0).max(6)).min(1).max(7),
  start: z.string().max(5),
  end: z.string().max(5),
});

/** The org's risk weights and thresholds (docs/risk.md). */
export const riskRoutes = ({ engine }: AppDeps) => [
  route({
    method: 'GET',
    url: '/v1/risk/settings',
    operationId: 'getRiskSettings',
    summary:
      'The risk weights, thresholds, working hours and external actions in force (the defaults until set)',
    tag: 'risk',
    auth: 'org',
    handler: async ({ principal }) => engine.riskSettings.get(principal),
  }),
  route({
    method: 'PUT',
    url: '/v1/risk/settings',
    operationId: 'putRiskSettings',
    summary: 'Replace the risk settings (fields left out take the defaults); audited',
    tag: 'risk',
    auth: 'org',
    body: z.strictObject({
      weights: z.record(z.string(), z.int().min(0).max(100)).optional(),
      approvalAt: z.int().min(1).max(101).optional(),
      denyAt: z.int().min(1).max(101).optional(),
      workingHours: hours.optional(),
      userHours: z.record(z.string().regex(/^usr_[0-9A-Z]{26}$/), hours).optional(),
      externalActions: z.array(z.string().max(256)).max(100).optional(),
    }),
    handler: async ({ principal, body }) => engine.riskSettings.put(principal, body as never),
  }),
];

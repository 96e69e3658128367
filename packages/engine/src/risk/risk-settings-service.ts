import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import { invalid } from '../errors.js';
import type { OrgReader } from '../ports/store.js';
import { DEFAULT_RISK_SETTINGS, type RiskSettings, resolveRiskSettings } from './settings.js';

const RISK = 'risk';

/** The org's risk settings as the risk step reads them (the defaults until an org sets its own). */
export async function readRiskSettings(org: OrgReader): Promise<RiskSettings> {
  const stored = (await org.getDocument<RiskSettings>('settings', RISK))?.doc;
  if (!stored) return DEFAULT_RISK_SETTINGS;
  // A factor added after the org saved its settings takes its default weight, never none.
  return { ...stored, weights: { ...DEFAULT_RISK_SETTINGS.weights, ...stored.weights } };
}

/** Read and replace an org's risk weights and thresholds; each change is audited. */
export class RiskSettingsService {
  constructor(private readonly ctx: EngineContext) {}

  async get(principal: OrgPrincipal): Promise<RiskSettings> {
    requirePermission(principal, 'risk.read');
    return readRiskSettings(this.ctx.store.org(principal.orgId));
  }

  async put(principal: OrgPrincipal, input: Partial<RiskSettings>): Promise<RiskSettings> {
    requirePermission(principal, 'risk.write');
    const settings = resolveRiskSettings(input);
    return this.ctx.store.org(principal.orgId).transact(async (tx) => {
      // Working hours only for this org's users, as every other body that names a user.
      for (const userId of Object.keys(settings.userHours ?? {}))
        if (!(await tx.getUser(userId))) throw invalid(`userHours.${userId}`, 'no such user in this org');
      const before = await readRiskSettings(tx);
      await tx.putDocument('settings', { id: RISK, tag: RISK, doc: settings });
      await this.ctx.audit.append(tx, {
        type: 'risk.settings.updated',
        actor: principal.actor,
        target: { type: 'settings', id: RISK },
        before,
        after: settings,
      });
      return settings;
    });
  }
}

import { createHash } from 'node:crypto';
import { createTwoFilesPatch } from 'diff';
import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import type { ReplaySummary } from '../decision/replay.js';
import { MandateError, notFound } from '../errors.js';
import type { PolicyVersion } from '../ports/records.js';
import type { OrgReader, Page, PageRequest } from '../ports/store.js';
import { BASELINE_POLICIES } from './baseline.js';
import { PolicyEvaluator, PolicyParseError, validatePolicies } from './evaluator.js';
import { validationSchema } from './schema.js';

export type PolicyVersionView = Omit<PolicyVersion, 'orgId'> & { active: boolean };

/** Replays recent decisions against a candidate set (DESIGN §3: flag a set that denies them all). */
export type DecisionReplayer = (org: OrgReader, candidate: PolicyEvaluator) => Promise<ReplaySummary>;

export interface PublishInput {
  policies: string;
  /** Cedar schema text declaring the org's own entity types and actions (strict validation). */
  schema?: string;
  note?: string;
}

/** What policy is in force for an org right now, parsed and ready. */
export interface ActivePolicy {
  version: number;
  hash: string;
  evaluator: PolicyEvaluator;
}

export interface PolicyCheck {
  valid: boolean;
  errors: string[];
  warnings: string[];
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const MAX_POLICY_BYTES = 512 * 1024;

/**
 * Each org's Cedar policy set, versioned. Publishing validates (Cedar's parser always; Cedar's
 * strict validator when the org declares a schema) and refuses with Cedar's own messages,
 * leaving the active version unchanged; a valid set becomes a new version and is activated.
 * An earlier version can be activated again. The active set is parsed once per version and
 * kept parsed (one slot per org), re-parsed only when the active version changes.
 */
export class PolicyService {
  private readonly parsed = new Map<string, ActivePolicy>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly replay?: DecisionReplayer,
  ) {}

  /** Checks without publishing. */
  validate(principal: OrgPrincipal, input: PublishInput): PolicyCheck {
    requirePermission(principal, 'policies.write');
    return check(input);
  }

  async publish(
    principal: OrgPrincipal,
    input: PublishInput,
  ): Promise<PolicyVersionView & { replay?: ReplaySummary }> {
    requirePermission(principal, 'policies.write');
    const result = check(input);
    if (!result.valid) {
      throw new MandateError('invalid_request', `policies: ${result.errors.join('; ')}`, 'policies');
    }
    // Published anyway (an operator may mean it), but flagged in the answer and the record.
    const replay = this.replay
      ? await this.replay(
          this.ctx.store.org(principal.orgId),
          new PolicyEvaluator(input.policies, undefined, {
            slot: `org-${principal.orgId}-${sha256(input.policies)}`,
          }),
        )
      : undefined;
    if (replay?.deniesAllRecent)
      result.warnings.push(
        `this policy set denies every one of the ${replay.replayed} most recent allowed requests it could replay`,
      );
    const now = this.ctx.clock.now().toISOString();
    const stored = await this.ctx.store.org(principal.orgId).transact(async (tx) => {
      const version: PolicyVersion = {
        orgId: principal.orgId,
        version: (await tx.latestPolicyVersion()) + 1,
        hash: sha256(input.policies),
        policies: input.policies,
        ...(input.schema !== undefined ? { schema: input.schema } : {}),
        createdAt: now,
        createdBy: principal.actor,
        ...(input.note ? { note: input.note } : {}),
      };
      await tx.insertPolicyVersion(version);
      await tx.setActivePolicyVersion(version.version);
      await this.ctx.audit.append(tx, {
        type: 'policy.published',
        actor: principal.actor,
        target: { type: 'policy', id: String(version.version) },
        after: {
          version: version.version,
          hash: version.hash,
          warnings: result.warnings,
          note: input.note,
          ...(replay ? { replay } : {}),
        },
      });
      return version;
    });
    return { ...view(stored, true), ...(replay ? { replay } : {}) };
  }

  async list(
    principal: OrgPrincipal,
    page: PageRequest,
  ): Promise<Page<PolicyVersionView> & { active: number }> {
    requirePermission(principal, 'policies.read');
    const org = this.ctx.store.org(principal.orgId);
    const active = (await org.activePolicyVersion()) ?? 0;
    const result = await org.listPolicyVersions(page);
    const items = result.items.map((v) => view(v, v.version === active));
    // The baseline (version 0) heads the first page.
    if (page.after === undefined || page.after === '0')
      items.unshift(view(baseline(principal.orgId), active === 0));
    return { ...result, items, active };
  }

  async get(principal: OrgPrincipal, version: number): Promise<PolicyVersionView> {
    requirePermission(principal, 'policies.read');
    const org = this.ctx.store.org(principal.orgId);
    const found = await this.version(org, version);
    return view(found, ((await org.activePolicyVersion()) ?? 0) === version);
  }

  async activate(principal: OrgPrincipal, version: number, reason: string): Promise<PolicyVersionView> {
    requirePermission(principal, 'policies.write');
    const found = await this.ctx.store.org(principal.orgId).transact(async (tx) => {
      const target = await this.version(tx, version);
      const before = (await tx.activePolicyVersion()) ?? 0;
      if (before === version) throw new MandateError('conflict', `version ${version} is already active`);
      await tx.setActivePolicyVersion(version);
      await this.ctx.audit.append(tx, {
        type: 'policy.activated',
        actor: principal.actor,
        target: { type: 'policy', id: String(version) },
        before: { version: before },
        after: { version, hash: target.hash },
        reason,
      });
      return target;
    });
    return view(found, true);
  }

  /** A unified diff of two versions' policy text. */
  async diff(
    principal: OrgPrincipal,
    from: number,
    to: number,
  ): Promise<{ from: number; to: number; diff: string }> {
    requirePermission(principal, 'policies.read');
    const org = this.ctx.store.org(principal.orgId);
    const [a, b] = [await this.version(org, from), await this.version(org, to)];
    // Bounded: two large, very different texts would otherwise block the event loop for seconds.
    const diff = createTwoFilesPatch(
      `version ${from}`,
      `version ${to}`,
      a.policies,
      b.policies,
      a.hash,
      b.hash,
      {
        maxEditLength: 5000,
        timeout: 500,
      },
    );
    if (diff === undefined)
      throw new MandateError(
        'invalid_request',
        'the versions differ too much to show a diff; compare their texts',
      );
    return { from, to, diff };
  }

  /** The org's policy in force now, parsed once per version. */
  async active(orgId: string): Promise<ActivePolicy> {
    const org = this.ctx.store.org(orgId);
    const version = (await org.activePolicyVersion()) ?? 0;
    const cached = this.parsed.get(orgId);
    if (cached?.version === version) return cached;
    const found = await this.version(org, version);
    // One slot per org and version: an evaluator held across awaits keeps evaluating its own
    // version even if another is activated meanwhile (a shared slot would be replaced under it).
    const evaluator = new PolicyEvaluator(found.policies, undefined, { slot: `org-${orgId}-${found.hash}` });
    const active = { version, hash: found.hash, evaluator };
    this.parsed.set(orgId, active);
    return active;
  }

  /** The active version's record (its text and declared schema). */
  async activeVersion(orgId: string): Promise<PolicyVersion> {
    const org = this.ctx.store.org(orgId);
    return this.version(org, (await org.activePolicyVersion()) ?? 0);
  }

  private async version(org: OrgReader, version: number): Promise<PolicyVersion> {
    if (version === 0) return baseline(org.orgId);
    const found = await org.getPolicyVersion(version);
    if (!found) throw notFound('policy version');
    return found;
  }
}

function check(input: PublishInput): PolicyCheck {
  if (Buffer.byteLength(input.policies, 'utf8') > MAX_POLICY_BYTES)
    return {
      valid: false,
      errors: [`the policy text is larger than ${MAX_POLICY_BYTES} bytes`],
      warnings: [],
    };
  try {
    new PolicyEvaluator(input.policies, undefined, { slot: 'validation' });
  } catch (error) {
    if (error instanceof PolicyParseError) return { valid: false, errors: error.errors, warnings: [] };
    throw error;
  }
  if (input.schema === undefined) return { valid: true, errors: [], warnings: [] };
  const schema = validationSchema(input.schema);
  if (!schema.ok) return { valid: false, errors: schema.errors, warnings: [] };
  return validatePolicies(input.policies, schema.schema);
}

function baseline(orgId: string): PolicyVersion {
  return {
    orgId,
    version: 0,
    hash: sha256(BASELINE_POLICIES),
    policies: BASELINE_POLICIES,
    createdAt: '1970-01-01T00:00:00.000Z',
    createdBy: { kind: 'system', id: 'mandate' },
    note: 'the built-in baseline (docs/policies.md)',
  };
}

function view(version: PolicyVersion, active: boolean): PolicyVersionView {
  const { orgId: _orgId, ...rest } = version;
  return { ...rest, active };
}

import { ApprovalService } from './approvals/approvals-service.js';
import { WebhookSender, type WebhookSenderOptions } from './approvals/webhook.js';
import { StoreAuditLog } from './audit/audit-log.js';
import { AuditReader } from './audit/audit-reader.js';
import { CheckpointService } from './audit/checkpoints.js';
import { AuditExplainer } from './audit/explain.js';
import { LogSigningKey } from './audit/log-key.js';
import { AuditProofService } from './audit/proofs.js';
import type { SignedHeadStore } from './audit/signed-heads.js';
import type { EngineContext } from './context.js';
import { AuthZenService } from './decision/authzen.js';
import { DecisionService } from './decision/decisions.js';
import { replayRecentDecisions } from './decision/replay.js';
import { DelegationService } from './delegation/delegations.js';
import { KillSwitchService } from './killswitch/killswitch.js';
import { MasterKey } from './oauth/master-key.js';
import { OAuthService } from './oauth/oauth-service.js';
import { EntityService } from './policy/entities.js';
import { PolicyService } from './policy/policies.js';
import { type Clock, systemClock } from './ports/clock.js';
import type { Store } from './ports/store.js';
import { AgentService } from './registry/agents.js';
import { ApiKeyService } from './registry/api-keys.js';
import { OrgService } from './registry/orgs.js';
import { UserService } from './registry/users.js';
import { RiskSettingsService } from './risk/risk-settings-service.js';

/** The engine's services over one store; what the server (or a test) holds. */
export interface Engine extends EngineContext {
  orgs: OrgService;
  users: UserService;
  apiKeys: ApiKeyService;
  agents: AgentService;
  auditReader: AuditReader;
  checkpoints: CheckpointService;
  proofs: AuditProofService;
  explainer: AuditExplainer;
  delegations: DelegationService;
  oauth: OAuthService;
  policies: PolicyService;
  entities: EntityService;
  authzen: AuthZenService;
  decisions: DecisionService;
  killSwitch: KillSwitchService;
  riskSettings: RiskSettingsService;
  approvals: ApprovalService;
}

export interface EngineOptions {
  clock?: Clock;
  /** The audit log's signing key (default: a throwaway key, for tests). */
  logKey?: LogSigningKey;
  /** Checkpoint origins are `<prefix>/<org id>` (default `mandate`). */
  logOriginPrefix?: string;
  /** Where the signer remembers its last signed heads (default: in memory). */
  signedHeads?: SignedHeadStore;
  /** The token issuer: its public URL, the master key sealing its signing keys, token lifetime. */
  oauth?: { issuer?: () => string; masterKey?: MasterKey; tokenTtlSeconds?: number };
  /** Webhook delivery (retry backoff, timeout); tests shorten the backoff. */
  webhooks?: WebhookSenderOptions;
}

export function createEngine(store: Store, options: EngineOptions | Clock = {}): Engine {
  const {
    clock = systemClock,
    logKey = LogSigningKey.generate(),
    logOriginPrefix,
    signedHeads,
    oauth = {},
    webhooks,
  } = 'now' in options ? { clock: options } : options;
  const ctx: EngineContext = { store, clock, audit: new StoreAuditLog(clock) };
  const checkpoints = new CheckpointService(ctx, logKey, logOriginPrefix, signedHeads);
  const proofs = new AuditProofService(ctx, checkpoints);
  const policies = new PolicyService(ctx, replayRecentDecisions);
  let decisions: DecisionService;
  const oauthService = new OAuthService(ctx, {
    issuer: oauth.issuer ?? (() => 'http://127.0.0.1:7070'),
    masterKey: oauth.masterKey ?? MasterKey.generate(),
    tokenTtlSeconds: oauth.tokenTtlSeconds,
  });
  const approvals = new ApprovalService(ctx, new WebhookSender(webhooks));
  decisions = new DecisionService(ctx, {
    ctx,
    tokens: oauthService.tokens,
    dpopReplay: oauthService.dpopReplay,
    policies,
    notify: approvals.filed,
  });
  return {
    ...ctx,
    orgs: new OrgService(ctx),
    users: new UserService(ctx),
    apiKeys: new ApiKeyService(ctx),
    agents: new AgentService(ctx),
    auditReader: new AuditReader(ctx),
    checkpoints,
    proofs,
    explainer: new AuditExplainer(ctx, proofs),
    delegations: new DelegationService(ctx),
    oauth: oauthService,
    policies,
    entities: new EntityService(ctx),
    authzen: new AuthZenService(
      ctx,
      policies,
      (request) => decisions.decide(request),
      (path) => oauthService.url(path),
    ),
    decisions,
    killSwitch: new KillSwitchService(ctx),
    riskSettings: new RiskSettingsService(ctx),
    approvals,
  };
}

import { StoreAuditLog } from './audit/audit-log.js';
import { AuditReader } from './audit/audit-reader.js';
import type { EngineContext } from './context.js';
import { type Clock, systemClock } from './ports/clock.js';
import type { Store } from './ports/store.js';
import { AgentService } from './registry/agents.js';
import { ApiKeyService } from './registry/api-keys.js';
import { OrgService } from './registry/orgs.js';
import { UserService } from './registry/users.js';

/** The engine's services over one store; what the server (or a test) holds. */
export interface Engine extends EngineContext {
  orgs: OrgService;
  users: UserService;
  apiKeys: ApiKeyService;
  agents: AgentService;
  auditReader: AuditReader;
}

export function createEngine(store: Store, clock: Clock = systemClock): Engine {
  const ctx: EngineContext = { store, clock, audit: new StoreAuditLog(clock) };
  return {
    ...ctx,
    orgs: new OrgService(ctx),
    users: new UserService(ctx),
    apiKeys: new ApiKeyService(ctx),
    agents: new AgentService(ctx),
    auditReader: new AuditReader(ctx),
  };
}

import type { AuditLog } from './audit/audit-log.js';
import type { Clock } from './ports/clock.js';
import type { Store } from './ports/store.js';

/** What every service needs: where data lives, what time it is, where changes are recorded. */
export interface EngineContext {
  store: Store;
  clock: Clock;
  audit: AuditLog;
}

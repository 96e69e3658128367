import type { Role } from '@mandate/core';
import { MandateError } from '../errors.js';
import type { OrgPrincipal } from './principal.js';

/**
 * Which roles may do what inside an org. Owner rules (an owner may activate or revoke their
 * own agent) are applied on top by the agent registry.
 */
export const PERMISSIONS = {
  'agents.read': ['admin', 'operator', 'approver', 'auditor'],
  'agents.write': ['admin', 'operator'],
  'agents.activate': ['admin'],
  'agents.revoke': ['admin'],
  'agents.boundaries': ['admin'],
  'agents.addKey': ['admin'],
  'agents.transfer': ['admin'],
  'users.read': ['admin', 'operator', 'approver', 'auditor'],
  'users.write': ['admin'],
  'apiKeys.manage': ['admin'],
  'audit.read': ['admin', 'auditor'],
  'delegations.read': ['admin', 'operator', 'approver', 'auditor'],
  /** Recording a grant for a named user (the user in person needs no role). */
  'delegations.grantForUser': ['admin'],
  'delegations.revoke': ['admin'],
  /** RFC 7662 introspection of the org's access tokens (enforcement points and auditors). */
  'credentials.introspect': ['admin', 'auditor', 'pep'],
  'credentials.revoke': ['admin'],
  'org.read': ['admin', 'operator', 'approver', 'auditor', 'pep'],
  'policies.read': ['admin', 'operator', 'auditor'],
  'policies.write': ['admin'],
  'entities.read': ['admin', 'operator', 'auditor'],
  'entities.write': ['admin', 'operator'],
  /** Approvals: seen by reviewers; decided by approvers and admins the request names (or its root user). */
  'approvals.read': ['admin', 'operator', 'approver', 'auditor'],
  'approvals.webhook': ['admin'],
  'approvals.cancel': ['admin', 'operator'],
  'risk.read': ['admin', 'operator', 'auditor'],
  'risk.write': ['admin'],
  /** The kill switch: any operator can stop; only an admin can start again. */
  'killswitch.read': ['admin', 'operator', 'approver', 'auditor'],
  'killswitch.lock': ['admin', 'operator'],
  'killswitch.release': ['admin'],
  /** Asking for decisions (AuthZEN, the native endpoint): enforcement points. */
  'decisions.evaluate': ['admin', 'pep'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export function hasPermission(principal: OrgPrincipal, permission: Permission): boolean {
  const allowed: readonly Role[] = PERMISSIONS[permission];
  return principal.roles.some((role) => allowed.includes(role));
}

export function requirePermission(principal: OrgPrincipal, permission: Permission): void {
  if (!hasPermission(principal, permission)) {
    throw new MandateError(
      'forbidden',
      `this operation needs one of the roles: ${PERMISSIONS[permission].join(', ')}`,
    );
  }
}

/** Roles an API key or a user holds inside one org. */
export const ROLES = ['admin', 'operator', 'approver', 'auditor', 'pep'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

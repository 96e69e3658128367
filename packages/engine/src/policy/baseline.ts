/**
 * The policy set in force in an org that has published none (version 0). Delegation grants,
 * policy governs: before policy runs, Mandate has checked that the agent's delegation chain
 * covers the request and set `context.mandate.delegated`; the baseline permits exactly those,
 * and forbids two dangerous patterns. A plain AuthZEN request (no agent credential) is not
 * delegated, so the baseline denies it until the org publishes policies of its own.
 * Documented in docs/policies.md; changing it changes every unconfigured org.
 */
export const BASELINE_POLICIES = `// Mandate baseline policy set (version 0).
// policy0: permit what an agent's verified delegation chain covers.
permit (principal, action, resource)
when { context has mandate && context.mandate has delegated && context.mandate.delegated == true };

// policy1: no agent changes identities or permissions (iam.*) on its own: a human must publish
// a policy that allows it.
forbid (principal, action, resource)
when { context has mandate && context.mandate has action && context.mandate.action like "iam.*" };

// policy2: restricted data is not touched through re-delegation (only by an agent a human
// delegated to directly).
forbid (principal, action, resource)
when {
  context has mandate && context.mandate has dataClass && context.mandate.dataClass == "restricted" &&
  context.mandate has chainDepth && context.mandate.chainDepth > 0
};
`;

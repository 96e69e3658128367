import type { Delegation } from '@mandate/core';

/** Which limit of a delegation stopped a use. */
export type LimitKind = 'uses' | 'rate' | 'budget';

/** What one delegation has used so far (document kind `usage`, id = the delegation's id). */
export interface DelegationUsage {
  uses: number;
  /** Sum of the budgeted argument over all allowed uses. */
  spent: number;
  /** Times (ms) of the uses within the last minute, oldest first. */
  recent: number[];
}

export const EMPTY_USAGE: DelegationUsage = { uses: 0, spent: 0, recent: [] };
const MINUTE_MS = 60_000;

/** What one allowed use takes from one delegation, for the record and explain. */
export interface LimitConsumption {
  delegationId: string;
  uses: number;
  maxUses?: number;
  ratePerMinute?: number;
  spent?: number;
  budget?: { argument: string; max: number };
}

export type LimitVerdict =
  | { ok: true; next: Array<{ delegationId: string; usage: DelegationUsage }>; consumed: LimitConsumption[] }
  | { ok: false; limit: LimitKind; delegationId: string; detail: string };

/** The delegations of a chain that carry limits (a use counts against every one of them). */
export const limitedLinks = (chain: readonly Delegation[]) =>
  chain.filter((d) => d.scope.limits && Object.keys(d.scope.limits).length > 0);

/**
 * Would one more use, with these arguments, stay within every limit of every link of the chain?
 * Pure: the caller reads the usages and, inside one serialised transaction, writes `next`.
 * A budget needs its argument as a finite number ≥ 0: a missing, negative or non-numeric amount
 * is refused (a negative one would refund the budget).
 */
export function checkLimits(
  chain: readonly Delegation[],
  usages: ReadonlyMap<string, DelegationUsage>,
  args: Record<string, unknown> | undefined,
  now: Date,
): LimitVerdict {
  const next: Array<{ delegationId: string; usage: DelegationUsage }> = [];
  const consumed: LimitConsumption[] = [];
  for (const link of limitedLinks(chain)) {
    const limits = link.scope.limits ?? {};
    const usage = usages.get(link.id) ?? EMPTY_USAGE;
    const deny = (limit: LimitKind, detail: string) =>
      ({ ok: false, limit, delegationId: link.id, detail: `delegation ${link.id}: ${detail}` }) as const;
    if (limits.maxUses !== undefined && usage.uses + 1 > limits.maxUses)
      return deny('uses', `all ${limits.maxUses} uses are spent`);
    const recent = usage.recent.filter((t) => t > now.getTime() - MINUTE_MS);
    if (limits.ratePerMinute !== undefined && recent.length + 1 > limits.ratePerMinute)
      return deny('rate', `at most ${limits.ratePerMinute} uses per minute`);
    let spent = usage.spent;
    if (limits.budget) {
      const amount = args?.[limits.budget.argument];
      if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0)
        return deny('budget', `the budgeted argument ${limits.budget.argument} must be a number ≥ 0`);
      if (spent + amount > limits.budget.max)
        return deny('budget', `${limits.budget.argument}: ${spent} spent + ${amount} > ${limits.budget.max}`);
      spent += amount;
    }
    const keepRecent = limits.ratePerMinute !== undefined ? [...recent, now.getTime()] : [];
    next.push({ delegationId: link.id, usage: { uses: usage.uses + 1, spent, recent: keepRecent } });
    consumed.push({
      delegationId: link.id,
      uses: usage.uses + 1,
      ...(limits.maxUses !== undefined ? { maxUses: limits.maxUses } : {}),
      ...(limits.ratePerMinute !== undefined ? { ratePerMinute: limits.ratePerMinute } : {}),
      ...(limits.budget ? { spent, budget: limits.budget } : {}),
    });
  }
  return { ok: true, next, consumed };
}

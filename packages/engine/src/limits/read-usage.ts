import type { Delegation } from '@mandate/core';
import type { OrgReader } from '../ports/store.js';
import { type DelegationUsage, limitedLinks } from './usage.js';

/** The usage of every limited link of a chain, as stored (or as the transaction sees it). */
export async function readUsages(
  org: OrgReader,
  chain: readonly Delegation[],
): Promise<Map<string, DelegationUsage>> {
  const out = new Map<string, DelegationUsage>();
  for (const link of limitedLinks(chain)) {
    const stored = await org.getDocument<DelegationUsage>('usage', link.id);
    if (stored) out.set(link.id, stored.doc);
  }
  return out;
}

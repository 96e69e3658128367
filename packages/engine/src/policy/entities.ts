import { requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import { MandateError, notFound } from '../errors.js';
import type { StoredEntity } from '../ports/records.js';
import type { OrgReader, Page, PageRequest } from '../ports/store.js';
import type { CedarEntity, CedarEntityUid, CedarValue } from './cedar.js';
import { cedar, describeCedarErrors } from './cedar.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from './guard.js';

/** Types whose entities come from Mandate's registry, never from the org's entity store. */
export const RESERVED_ENTITY_TYPES = ['Agent', 'Org', 'Action'];

export interface EntityInput {
  uid: CedarEntityUid;
  attrs?: Record<string, unknown>;
  parents?: CedarEntityUid[];
}

/** Most entities one evaluation loads (the subject, the resource and their ancestors). */
const MAX_LOADED = 200;
const MAX_PUT = 1000;
/** An entity's attributes, as JSON: every evaluation hands Cedar up to 200 entities. */
const MAX_ATTR_BYTES = 16 * 1024;

/**
 * The entities an org keeps for its policies (users with roles, documents, groups), in Cedar's
 * JSON entity format. Evaluations load the request's subject and resource with all their
 * ancestors, so `in` checks see the whole hierarchy; nothing else is passed to Cedar.
 */
export class EntityService {
  constructor(private readonly ctx: EngineContext) {}

  async put(principal: OrgPrincipal, entities: EntityInput[]): Promise<{ stored: number }> {
    requirePermission(principal, 'entities.write');
    if (entities.length === 0 || entities.length > MAX_PUT)
      throw new MandateError('invalid_request', `entities: send 1 to ${MAX_PUT} entities`, 'entities');
    const normalised: CedarEntity[] = entities.map((e) => ({
      uid: { type: e.uid.type, id: e.uid.id },
      attrs: (e.attrs ?? {}) as Record<string, CedarValue>,
      parents: e.parents ?? [],
    }));
    for (const [i, e] of normalised.entries()) {
      if (jsonDepthExceeds(e.attrs) || JSON.stringify(e.attrs).length > MAX_ATTR_BYTES)
        throw new MandateError(
          'invalid_request',
          `entities.${i}.attrs: nested deeper than ${MAX_JSON_DEPTH} or larger than ${MAX_ATTR_BYTES} bytes`,
          `entities.${i}.attrs`,
        );
    }
    const seen = new Set<string>();
    for (const [i, e] of normalised.entries()) {
      const type = (e.uid as CedarEntityUid).type;
      const key = `${type}\u0000${(e.uid as CedarEntityUid).id}`;
      if (seen.has(key))
        throw new MandateError(
          'invalid_request',
          `entities.${i}.uid: the same uid twice in one request`,
          `entities.${i}.uid`,
        );
      seen.add(key);
      if (RESERVED_ENTITY_TYPES.includes(type))
        throw new MandateError(
          'invalid_request',
          `entities.${i}.uid: ${type} entities come from Mandate's registry and cannot be written`,
          `entities.${i}.uid`,
        );
    }
    // Cedar's own parser decides what an entity is (attribute values, extension values, uids).
    const parsed = cedar.checkParseEntities({ entities: normalised });
    if (parsed.type !== 'success')
      throw new MandateError(
        'invalid_request',
        `entities: ${describeCedarErrors(parsed.errors).join('; ')}`,
        'entities',
      );
    const now = this.ctx.clock.now().toISOString();
    await this.ctx.store.org(principal.orgId).transact(async (tx) => {
      for (const e of normalised) {
        const uid = e.uid as CedarEntityUid;
        await tx.putEntity({
          uid,
          attrs: e.attrs,
          parents: e.parents as CedarEntityUid[],
          updatedAt: now,
        });
      }
      await this.ctx.audit.append(tx, {
        type: 'entities.put',
        actor: principal.actor,
        target: { type: 'entities', id: `${normalised.length}` },
        // The uids, not the attributes: the log says what changed, the store holds the data.
        after: { uids: normalised.map((e) => e.uid) },
      });
    });
    return { stored: normalised.length };
  }

  async get(principal: OrgPrincipal, type: string, id: string): Promise<StoredEntity> {
    requirePermission(principal, 'entities.read');
    const found = await this.ctx.store.org(principal.orgId).getEntity(type, id);
    if (!found) throw notFound('entity');
    return found;
  }

  async list(
    principal: OrgPrincipal,
    type: string | undefined,
    page: PageRequest,
  ): Promise<Page<StoredEntity>> {
    requirePermission(principal, 'entities.read');
    return this.ctx.store.org(principal.orgId).listEntities(type, page);
  }

  async delete(principal: OrgPrincipal, type: string, id: string): Promise<void> {
    requirePermission(principal, 'entities.write');
    await this.ctx.store.org(principal.orgId).transact(async (tx) => {
      if (!(await tx.deleteEntity(type, id))) throw notFound('entity');
      await this.ctx.audit.append(tx, {
        type: 'entities.deleted',
        actor: principal.actor,
        target: { type: 'entity', id: `${type}::${JSON.stringify(id)}` },
      });
    });
  }
}

/**
 * The stored entities for `roots` and every ancestor of theirs, breadth first, bounded.
 * `overlay` attributes (what the request sent) are merged over the stored ones.
 */
export async function loadEntities(
  org: OrgReader,
  roots: Array<{ uid: CedarEntityUid; properties?: Record<string, unknown> }>,
  options: { storedWins?: boolean } = {},
): Promise<CedarEntity[]> {
  const out = new Map<string, CedarEntity>();
  const key = (uid: CedarEntityUid) => `${uid.type}\u0000${uid.id}`;
  const queue: CedarEntityUid[] = [];
  for (const root of roots) {
    const stored = await org.getEntity(root.uid.type, root.uid.id);
    // Who is trusted more: an enforcement point's properties (AuthZEN), or the org's stored
    // attributes over what an agent says about a resource (the agent pipeline).
    const attrs = (
      options.storedWins
        ? { ...(root.properties ?? {}), ...(stored?.attrs ?? {}) }
        : { ...(stored?.attrs ?? {}), ...(root.properties ?? {}) }
    ) as Record<string, CedarValue>;
    const existing = out.get(key(root.uid));
    out.set(key(root.uid), {
      uid: root.uid,
      attrs: existing ? { ...(existing.attrs as object), ...attrs } : attrs,
      parents: stored?.parents ?? [],
    });
    queue.push(...(stored?.parents ?? []));
  }
  while (queue.length > 0) {
    const uid = queue.shift() as CedarEntityUid;
    if (out.has(key(uid))) continue;
    // A hierarchy cut short could hide a forbid by membership: refuse rather than decide on part.
    if (out.size >= MAX_LOADED)
      throw new Error(`more than ${MAX_LOADED} entities in the request's hierarchy`);
    const stored = await org.getEntity(uid.type, uid.id);
    out.set(key(uid), {
      uid,
      attrs: (stored?.attrs ?? {}) as Record<string, CedarValue>,
      parents: stored?.parents ?? [],
    });
    queue.push(...(stored?.parents ?? []));
  }
  return [...out.values()];
}

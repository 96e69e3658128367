/**
 * What the compiled engine needs from a schema: each entity type's attribute and tag types (a
 * schema makes some JSON forms implicit: `"1.2.3.4"` for an ipaddr, `{type, id}` for an entity),
 * each action's context type, and the action entities the schema declares (Cedar adds them to
 * every request's entities). Read from `schemaToJsonWithResolvedTypes`; anything unexpected
 * makes the set not compilable.
 */
import { type CedarSchema, cedar } from '../cedar.js';
import { NotCompilable } from './compiler.js';
import type { EntityTypes, SchemaType } from './store.js';
import { EntityRef } from './values.js';

type Json = Record<string, unknown>;
const EXT = new Set(['ipaddr', 'decimal', 'datetime', 'duration']);
const PRIM = new Set(['Long', 'String', 'Bool', 'Boolean']);

export function schemaTypes(schema: CedarSchema): EntityTypes {
  let text: unknown = schema;
  if (typeof schema !== 'string') {
    const t = cedar.schemaToText(schema);
    if (t.type !== 'success') throw new NotCompilable('schema has no text form');
    text = t.text;
  }
  const resolved = cedar.schemaToJsonWithResolvedTypes(text as string);
  if (resolved.type !== 'success') throw new NotCompilable('schema types cannot be resolved');
  const namespaces = resolved.json as unknown as Record<string, Json>;
  const common = new Map<string, unknown>();
  const entityNames = new Set<string>();
  const q = (ns: string, n: string) => (ns ? `${ns}::${n}` : n);
  for (const [ns, def] of Object.entries(namespaces)) {
    for (const [n, t] of Object.entries((def.commonTypes as Json | undefined) ?? {})) common.set(q(ns, n), t);
    for (const n of Object.keys((def.entityTypes as Json | undefined) ?? {})) entityNames.add(q(ns, n));
  }

  const normalize = (t: unknown, ns: string, depth: number): SchemaType => {
    if (depth > 64 || typeof t !== 'object' || t === null) throw new NotCompilable('schema type shape');
    const x = t as Json;
    const name = x.type;
    if (typeof name !== 'string') throw new NotCompilable('schema type shape');
    if (name === 'Record') {
      const attributes: Record<string, SchemaType & { type: string }> = {};
      for (const [k, v] of Object.entries((x.attributes as Json | undefined) ?? {}))
        attributes[k] = normalize(v, ns, depth + 1);
      return { type: 'Record', attributes };
    }
    if (name === 'Set') return { type: 'Set', element: normalize(x.element, ns, depth + 1) };
    if (name === 'Entity') {
      if (typeof x.name !== 'string') throw new NotCompilable('schema entity type');
      return { type: x.name };
    }
    if (name === 'Extension') {
      if (typeof x.name !== 'string' || !EXT.has(x.name)) throw new NotCompilable('schema extension type');
      return { type: `__cedar::${x.name}` };
    }
    // A name: a common type, an entity type, or a built-in (Cedar's resolution order).
    const candidates = name.includes('::') ? [name] : [q(ns, name), name];
    for (const c of candidates) {
      if (common.has(c)) return normalize(common.get(c), c.split('::').slice(0, -1).join('::'), depth + 1);
      if (entityNames.has(c)) return { type: c };
    }
    const bare = name.startsWith('__cedar::') ? name.slice('__cedar::'.length) : name;
    if (EXT.has(bare)) return { type: `__cedar::${bare}` };
    if (PRIM.has(bare)) return { type: `__cedar::${bare}` };
    throw new NotCompilable(`schema type ${name}`);
  };

  const types: EntityTypes = { shapes: new Map(), actions: new Map(), contexts: new Map() };
  for (const [ns, def] of Object.entries(namespaces)) {
    for (const [n, t] of Object.entries((def.entityTypes as Record<string, Json> | undefined) ?? {})) {
      const shape = t.shape ? normalize(t.shape, ns, 0) : undefined;
      types.shapes.set(q(ns, n), {
        ...(shape?.attributes ? { attrs: shape.attributes } : {}),
        ...(t.tags ? { tags: normalize(t.tags, ns, 0) } : {}),
      });
    }
    for (const [n, a] of Object.entries((def.actions as Record<string, Json> | undefined) ?? {})) {
      const uid = new EntityRef(q(ns, 'Action'), n);
      const parents = ((a.memberOf as Json[] | undefined) ?? []).map((m) => {
        if (typeof m.id !== 'string') throw new NotCompilable('schema memberOf');
        if (m.type !== undefined && (typeof m.type !== 'string' || (ns && !m.type.includes('::'))))
          throw new NotCompilable('schema memberOf type');
        return new EntityRef((m.type as string | undefined) ?? q(ns, 'Action'), m.id);
      });
      types.actions.set(uid.key, parents);
      const applies = a.appliesTo as Json | undefined;
      types.contexts.set(
        uid.key,
        applies?.context ? normalize(applies.context, ns, 0) : { type: 'Record', attributes: {} },
      );
    }
  }
  return types;
}

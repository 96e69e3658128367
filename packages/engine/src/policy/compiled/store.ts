/**
 * One request's entities, read from Cedar's entity JSON the way cedar-wasm reads it. Anything
 * this reader is not sure to read exactly as Cedar would (odd shapes, duplicate uids, cycles,
 * fractional numbers, unknown escapes, bad extension strings) throws `Defer`: the request then
 * goes to cedar-wasm, which gives the authoritative answer (often a refusal).
 */
import { construct, EXTENSION_FUNCTIONS, isConstructor } from './extensions.js';
import { CedarEvalError, CedarRecord, CedarSet, EntityRef, ExtValue, type Value } from './values.js';

export class Defer extends Error {}

/** A schema type, as `schemaToJsonWithResolvedTypes` writes it (only what parsing needs). */
export type SchemaType = {
  type: string;
  element?: SchemaType;
  attributes?: Record<string, { type: string } & SchemaType>;
};

export interface StoredEntity {
  attrs: Map<string, Value>;
  parents: EntityRef[];
  tags?: Map<string, Value>;
}

const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'like', 'has']);
const IDENT = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const validNames = new Map<string, boolean>();
/** An entity type name Cedar accepts (`A::B`), else Defer: Cedar would refuse it. */
export function checkTypeName(name: string): string {
  let ok = validNames.get(name);
  if (ok === undefined) {
    ok =
      name.split('::').every((part) => IDENT.test(part) && !RESERVED.has(part)) &&
      !name.startsWith('__cedar');
    if (validNames.size < 10_000) validNames.set(name, ok);
  }
  if (!ok) throw new Defer(`entity type name ${JSON.stringify(name)}`);
  return name;
}

const isAction = (type: string) => type === 'Action' || type.endsWith('::Action');

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{ "type": …, "id": … }` or `{ "__entity": { … } }`: a uid where only a uid may be. */
export function readUid(json: unknown): EntityRef {
  if (!isPlainObject(json)) throw new Defer('entity uid shape');
  const keys = Object.keys(json);
  const inner = keys.length === 1 && keys[0] === '__entity' ? json.__entity : json;
  if (!isPlainObject(inner)) throw new Defer('entity uid shape');
  const innerKeys = Object.keys(inner);
  if (innerKeys.length !== 2 || typeof inner.type !== 'string' || typeof inner.id !== 'string')
    throw new Defer('entity uid shape');
  return new EntityRef(checkTypeName(inner.type), inner.id);
}

const EXT_TYPES: Record<string, string> = {
  '__cedar::ipaddr': 'ip',
  '__cedar::decimal': 'decimal',
  '__cedar::datetime': 'datetime',
  '__cedar::duration': 'duration',
};

/**
 * A JSON attribute or context value. With a schema type, the implicit forms Cedar accepts under
 * a schema are read too: a string where an extension type is expected, `{type, id}` where an
 * entity is expected.
 */
export function readValue(json: unknown, type?: SchemaType): Value {
  switch (typeof json) {
    case 'boolean':
      return json;
    case 'number':
      if (!Number.isSafeInteger(json)) throw new Defer('number is not an exact integer');
      return BigInt(json);
    case 'string': {
      const fn = type && EXT_TYPES[type.type];
      if (fn) return extension(fn, json);
      return json;
    }
    case 'object': {
      if (json === null) throw new Defer('null value');
      if (Array.isArray(json)) {
        const element = type?.type === 'Set' ? type.element : undefined;
        return new CedarSet(json.map((item) => readValue(item, element)));
      }
      const obj = json as Record<string, unknown>;
      const keys = Object.keys(obj);
      if (keys.some((k) => k.startsWith('__'))) {
        if (keys.length !== 1) throw new Defer('escape with other keys');
        if (keys[0] === '__entity') return readUid(obj);
        if (keys[0] === '__extn') {
          const x = obj.__extn;
          if (!isPlainObject(x) || Object.keys(x).length !== 2 || typeof x.fn !== 'string')
            throw new Defer('__extn shape');
          if (isConstructor(x.fn) && typeof x.arg === 'string') return extension(x.fn, x.arg);
          return extensionCall(x.fn, 'arg' in x ? [x.arg] : x.args);
        }
        throw new Defer(`escape ${keys[0]}`);
      }
      if (type && !type.type.startsWith('__cedar::') && type.type !== 'Record' && type.type !== 'Set')
        return readUid(obj);
      const attrTypes = type?.type === 'Record' ? type.attributes : undefined;
      const map = new Map<string, Value>();
      for (const k of keys) map.set(k, readValue(obj[k], attrTypes?.[k]));
      return new CedarRecord(map);
    }
    default:
      throw new Defer('unexpected JSON value');
  }
}

/** `{"__extn": {"fn": "offset", "args": [...]}}`: how Cedar writes a datetime, for one. */
function extensionCall(fn: string, args: unknown): ExtValue {
  const f = Object.hasOwn(EXTENSION_FUNCTIONS, fn) ? EXTENSION_FUNCTIONS[fn] : undefined;
  if (!f || !Array.isArray(args) || args.length !== f[0]) throw new Defer(`__extn ${fn}`);
  let v: Value;
  try {
    v = f[1](args.map((a) => readValue(a)));
  } catch (error) {
    if (error instanceof CedarEvalError) throw new Defer(`__extn ${fn} fails`);
    throw error;
  }
  if (!(v instanceof ExtValue)) throw new Defer(`__extn ${fn} is not an extension value`);
  return v;
}

function extension(fn: string, arg: string): ExtValue {
  const v = construct(fn, arg);
  if (!v) throw new Defer(`bad ${fn} string`); // Cedar refuses the entities: let it say so
  return v;
}

export interface EntityTypes {
  /** Attribute types per entity type name, tag type, and the schema's action entities. */
  shapes: Map<string, { attrs?: Record<string, SchemaType>; tags?: SchemaType }>;
  actions: Map<string, EntityRef[]>;
  contexts: Map<string, SchemaType>;
}

/** The entities of one request: attributes, tags, and transitive ancestors (computed on demand). */
export class EntityStore {
  private readonly entities = new Map<string, StoredEntity>();
  private readonly closures = new Map<string, Set<string>>();

  constructor(json: unknown, types?: EntityTypes) {
    if (!Array.isArray(json)) throw new Defer('entities are not a list');
    for (const item of json) {
      if (!isPlainObject(item)) throw new Defer('entity shape');
      for (const k of Object.keys(item))
        if (k !== 'uid' && k !== 'attrs' && k !== 'parents' && k !== 'tags')
          throw new Defer(`entity key ${k}`);
      if (!isPlainObject(item.attrs) || !Array.isArray(item.parents)) throw new Defer('entity shape');
      const uid = readUid(item.uid);
      if (this.entities.has(uid.key)) throw new Defer('duplicate entity uid');
      const shape = types?.shapes.get(uid.type);
      if (types?.actions.has(uid.key)) continue; // the schema's declaration is used (it must agree)
      const attrs = new Map<string, Value>();
      for (const [k, v] of Object.entries(item.attrs)) attrs.set(k, readValue(v, shape?.attrs?.[k]));
      const parents = item.parents.map(readUid);
      // Cedar refuses an action whose parent is not an action.
      if (isAction(uid.type) && parents.some((p) => !isAction(p.type)))
        throw new Defer('action with a non-action parent');
      let tags: Map<string, Value> | undefined;
      if (item.tags !== undefined) {
        if (!isPlainObject(item.tags)) throw new Defer('tags shape');
        tags = new Map();
        for (const [k, v] of Object.entries(item.tags)) tags.set(k, readValue(v, shape?.tags));
      }
      this.entities.set(uid.key, { attrs, parents, ...(tags ? { tags } : {}) });
    }
    if (types)
      for (const [key, parents] of types.actions) this.entities.set(key, { attrs: new Map(), parents });
  }

  get(key: string): StoredEntity | undefined {
    return this.entities.get(key);
  }

  /** Keys of every strict ancestor; a cycle makes Cedar refuse the entities, so it defers. */
  ancestors(key: string): Set<string> {
    let found = this.closures.get(key);
    if (found) return found;
    found = new Set();
    const stack = [...(this.entities.get(key)?.parents ?? [])];
    while (stack.length > 0) {
      const p = stack.pop() as EntityRef;
      if (found.has(p.key)) continue;
      if (p.key === key) throw new Defer('entity hierarchy has a cycle');
      found.add(p.key);
      const e = this.entities.get(p.key);
      if (e) for (const q of e.parents) if (!found.has(q.key)) stack.push(q);
    }
    this.closures.set(key, found);
    return found;
  }

  /** Cedar refuses entities whose hierarchy has a cycle: check all of them once. */
  checkAcyclic(): void {
    for (const key of this.entities.keys()) this.ancestors(key);
  }
}

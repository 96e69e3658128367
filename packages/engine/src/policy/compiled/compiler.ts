/**
 * Compiles one Cedar expression (cedar-wasm's JSON form, the EST) into a tree of JavaScript
 * closures that evaluate it with Cedar's semantics (cedar-policy-core/src/evaluator.rs).
 *
 * Written by hand because no library compiles Cedar to JavaScript: the reference engine is Rust
 * (reached through WebAssembly at a high cost per call), and the JSON form is small enough to
 * translate node by node. No text is ever turned into code (no eval, no new Function): each node
 * becomes a closure over its compiled children. Anything not understood throws NotCompilable,
 * and the whole policy set then stays on cedar-wasm.
 */
import { compareValues, EXTENSION_FUNCTIONS } from './extensions.js';
import { checkI64 } from './i64.js';
import { checkTypeName, Defer, type EntityStore } from './store.js';
import {
  asBool,
  asEntity,
  asLong,
  asSet,
  asString,
  CedarEvalError,
  CedarRecord,
  CedarSet,
  EntityRef,
  typeError,
  type Value,
  valueEquals,
  valueKey,
} from './values.js';

export class NotCompilable extends Error {}

/** What a compiled expression sees: the request's variables and its entities. */
export interface Env {
  principal: EntityRef;
  action: EntityRef;
  resource: EntityRef;
  context: CedarRecord;
  store: EntityStore;
}

export type Compiled = (env: Env) => Value;

type Node = Record<string, unknown>;

const isObject = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An entity uid written in a policy (`{type,id}` or `{__entity:{type,id}}`). */
export function literalUid(json: unknown): EntityRef {
  const inner = isObject(json) && '__entity' in json ? json.__entity : json;
  if (!isObject(inner) || typeof inner.type !== 'string' || typeof inner.id !== 'string')
    throw new NotCompilable(`entity literal ${JSON.stringify(json)}`);
  try {
    return new EntityRef(checkTypeName(inner.type), inner.id);
  } catch {
    throw new NotCompilable(`entity type ${inner.type}`);
  }
}

function literal(json: unknown): Value {
  switch (typeof json) {
    case 'boolean':
    case 'string':
      return json;
    case 'number':
      // The JSON form carries Longs as JS numbers: beyond 2^53 they are already rounded.
      if (!Number.isSafeInteger(json))
        throw new NotCompilable('an integer literal beyond 2^53 (the JSON form has rounded it)');
      return BigInt(json);
    default:
      return literalUid(json);
  }
}

/** `in`: Cedar's `eval_in` (the right side: an entity or a set of entities, all checked). */
export function entityIn(env: Env, left: EntityRef, right: Value): boolean {
  if (right instanceof EntityRef)
    return left.key === right.key || env.store.ancestors(left.key).has(right.key);
  if (!(right instanceof CedarSet)) throw typeError('entity or set of entities', right);
  for (const item of right.items) if (!(item instanceof EntityRef)) throw typeError('entity', item);
  if (right.items.length === 0) return false;
  const ancestors = env.store.ancestors(left.key);
  for (const item of right.items) {
    const key = (item as EntityRef).key;
    if (key === left.key || ancestors.has(key)) return true;
  }
  return false;
}

function getAttr(env: Env, v: Value, attr: string): Value {
  if (v instanceof CedarRecord) {
    const found = v.map.get(attr);
    if (found === undefined) throw new CedarEvalError(`record does not have the attribute \`${attr}\``);
    return found;
  }
  if (v instanceof EntityRef) {
    const entity = env.store.get(v.key);
    if (!entity) throw new CedarEvalError(`entity \`${v.type}::${JSON.stringify(v.id)}\` does not exist`);
    const found = entity.attrs.get(attr);
    if (found === undefined)
      throw new CedarEvalError(
        `\`${v.type}::${JSON.stringify(v.id)}\` does not have the attribute \`${attr}\``,
      );
    return found;
  }
  throw typeError('entity or record', v);
}

function hasAttr(env: Env, v: Value, attr: string): boolean {
  if (v instanceof CedarRecord) return v.map.has(attr);
  if (v instanceof EntityRef) return env.store.get(v.key)?.attrs.has(attr) ?? false;
  throw typeError('entity or record', v);
}

/** `like`: Cedar's wildcard match over Unicode scalar values (`*` matches any run). */
function compilePattern(elems: unknown): (s: string) => boolean {
  if (!Array.isArray(elems)) throw new NotCompilable('like pattern');
  const pat: Array<string | null> = []; // null: wildcard
  for (const e of elems) {
    if (e === 'Wildcard') pat.push(null);
    else if (isObject(e) && typeof e.Literal === 'string') for (const ch of e.Literal) pat.push(ch);
    else throw new NotCompilable('like pattern element');
  }
  if (!pat.includes(null)) {
    const exact = pat.join('');
    return (s) => s === exact;
  }
  return (s) => {
    const text = Array.from(s);
    let i = 0;
    let j = 0;
    let star = -1;
    let mark = 0;
    while (i < text.length) {
      if (j < pat.length && pat[j] === null) {
        star = j++;
        mark = i;
      } else if (j < pat.length && pat[j] === text[i]) {
        i++;
        j++;
      } else if (star >= 0) {
        j = star + 1;
        i = ++mark;
      } else return false;
    }
    while (j < pat.length && pat[j] === null) j++;
    return j === pat.length;
  };
}

const binary = (node: unknown): [Compiled, Compiled] => {
  if (!isObject(node)) throw new NotCompilable('binary operator shape');
  return [compileExpr(node.left), compileExpr(node.right)];
};

export function compileExpr(expr: unknown): Compiled {
  if (!isObject(expr)) throw new NotCompilable('expression shape');
  const keys = Object.keys(expr);
  if (keys.length !== 1) throw new NotCompilable(`expression with keys ${keys.join(',')}`);
  const op = keys[0] as string;
  const node = expr[op];
  switch (op) {
    case 'Value': {
      const v = literal(node);
      return () => v;
    }
    case 'Var':
      switch (node) {
        case 'principal':
          return (env) => env.principal;
        case 'action':
          return (env) => env.action;
        case 'resource':
          return (env) => env.resource;
        case 'context':
          return (env) => env.context;
      }
      throw new NotCompilable(`variable ${String(node)}`);
    case '!': {
      const arg = compileExpr((node as Node).arg);
      return (env) => !asBool(arg(env));
    }
    case 'neg': {
      const arg = compileExpr((node as Node).arg);
      return (env) => checkI64(-asLong(arg(env)), 'negation');
    }
    case 'isEmpty': {
      const arg = compileExpr((node as Node).arg);
      return (env) => asSet(arg(env)).items.length === 0;
    }
    case '==': {
      const [l, r] = binary(node);
      return (env) => valueEquals(l(env), r(env));
    }
    case '!=': {
      const [l, r] = binary(node);
      return (env) => !valueEquals(l(env), r(env));
    }
    case '<':
    case '<=': {
      const [l, r] = binary(node);
      const strict = op === '<';
      return (env) => {
        const a = l(env);
        return compareValues(a, r(env), strict);
      };
    }
    case '>':
    case '>=': {
      const [l, r] = binary(node);
      const strict = op === '>';
      return (env) => {
        const a = l(env);
        return compareValues(r(env), a, strict);
      };
    }
    case '+':
    case '-':
    case '*': {
      const [l, r] = binary(node);
      const f =
        op === '+'
          ? (a: bigint, b: bigint) => a + b
          : op === '-'
            ? (a: bigint, b: bigint) => a - b
            : (a: bigint, b: bigint) => a * b;
      return (env) => {
        const a = l(env);
        const b = r(env);
        return checkI64(f(asLong(a), asLong(b)), op);
      };
    }
    case '&&': {
      const [l, r] = binary(node);
      return (env) => asBool(l(env)) && asBool(r(env));
    }
    case '||': {
      const [l, r] = binary(node);
      return (env) => asBool(l(env)) || asBool(r(env));
    }
    case 'in': {
      const [l, r] = binary(node);
      return (env) => {
        const a = l(env);
        const b = r(env);
        return entityIn(env, asEntity(a), b);
      };
    }
    case 'contains': {
      const [l, r] = binary(node);
      return (env) => {
        const a = l(env);
        const b = r(env);
        return asSet(a).keys.has(valueKey(b));
      };
    }
    case 'containsAll':
    case 'containsAny': {
      const [l, r] = binary(node);
      const all = op === 'containsAll';
      return (env) => {
        const a = asSet(l(env));
        const b = asSet(r(env));
        if (all) {
          for (const k of b.keys) if (!a.keys.has(k)) return false;
          return true;
        }
        for (const k of b.keys) if (a.keys.has(k)) return true;
        return false;
      };
    }
    case 'getTag':
    case 'hasTag': {
      const [l, r] = binary(node);
      const get = op === 'getTag';
      return (env) => {
        const a = l(env);
        const b = r(env);
        const uid = asEntity(a);
        const tag = asString(b);
        const entity = env.store.get(uid.key);
        if (!get) return entity?.tags?.has(tag) ?? false;
        if (!entity)
          throw new CedarEvalError(`entity \`${uid.type}::${JSON.stringify(uid.id)}\` does not exist`);
        const found = entity.tags?.get(tag);
        if (found === undefined) throw new CedarEvalError(`entity does not have the tag \`${tag}\``);
        return found;
      };
    }
    case '.': {
      const n = node as Node;
      if (typeof n.attr !== 'string') throw new NotCompilable('attribute name');
      const attr = n.attr;
      const left = compileExpr(n.left);
      return (env) => getAttr(env, left(env), attr);
    }
    case 'has': {
      const n = node as Node;
      const left = compileExpr(n.left);
      const path = typeof n.attr === 'string' ? [n.attr] : n.attr;
      if (!Array.isArray(path) || path.length === 0 || !path.every((a) => typeof a === 'string'))
        throw new NotCompilable('has attribute path');
      const attrs = path as string[];
      if (attrs.length === 1) {
        const attr = attrs[0] as string;
        return (env) => hasAttr(env, left(env), attr);
      }
      // `e has a.b.c` is `e has a && e.a has b && e.a.b has c`.
      return (env) => {
        let v = left(env);
        for (let i = 0; i < attrs.length; i++) {
          const attr = attrs[i] as string;
          if (!hasAttr(env, v, attr)) return false;
          if (i < attrs.length - 1) v = getAttr(env, v, attr);
        }
        return true;
      };
    }
    case 'like': {
      const n = node as Node;
      const left = compileExpr(n.left);
      const match = compilePattern(n.pattern);
      return (env) => match(asString(left(env)));
    }
    case 'is': {
      const n = node as Node;
      if (typeof n.entity_type !== 'string') throw new NotCompilable('is type');
      const type = n.entity_type;
      const left = compileExpr(n.left);
      if (n.in === undefined) return (env) => asEntity(left(env)).type === type;
      const right = compileExpr(n.in);
      // `e is T in x` is `e is T && e in x`.
      return (env) => {
        const uid = asEntity(left(env));
        if (uid.type !== type) return false;
        const uid2 = asEntity(left(env));
        return entityIn(env, uid2, right(env));
      };
    }
    case 'if-then-else': {
      const n = node as Node;
      const c = compileExpr(n.if);
      const t = compileExpr(n.then);
      const e = compileExpr(n.else);
      return (env) => (asBool(c(env)) ? t(env) : e(env));
    }
    case 'Set': {
      if (!Array.isArray(node)) throw new NotCompilable('set shape');
      const items = node.map(compileExpr);
      return (env) => new CedarSet(items.map((item) => item(env)));
    }
    case 'Record': {
      if (!isObject(node)) throw new NotCompilable('record shape');
      const fields = Object.entries(node).map(([k, v]) => [k, compileExpr(v)] as const);
      return (env) => new CedarRecord(new Map(fields.map(([k, f]) => [k, f(env)])));
    }
    case 'Slot':
    case 'Unknown':
      throw new NotCompilable(`${op} (templates and partial evaluation stay on cedar-wasm)`);
  }
  const fn = Object.hasOwn(EXTENSION_FUNCTIONS, op) ? EXTENSION_FUNCTIONS[op] : undefined;
  if (fn && Array.isArray(node)) {
    const args = node.map(compileExpr);
    const apply = fn[1];
    if (node.length === fn[0]) return (env) => apply(args.map((a) => a(env)));
    // Cedar accepts the call and fails when it runs (after evaluating the arguments).
    return (env) => {
      for (const a of args) a(env);
      throw new CedarEvalError(`${op} takes ${fn[0]} argument(s), got ${args.length}`);
    };
  }
  throw new NotCompilable(`operator ${op}`);
}

export { Defer };

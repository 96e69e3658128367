/**
 * Policy scopes (`principal == …`, `action in [...]`, `resource is T in …`) compiled to checks,
 * and the action index: a request looks up only the policies whose action scope can match it,
 * so a set of 1,000 policies over many actions costs about what its few relevant ones cost.
 */
import { type Env, literalUid, NotCompilable } from './compiler.js';
import type { EntityRef } from './values.js';

export type ScopeCheck = ((env: Env, uid: EntityRef) => boolean) | null;

type Node = Record<string, unknown>;

const inCheck = (key: string) => (env: Env, uid: EntityRef) =>
  uid.key === key || env.store.ancestors(uid.key).has(key);

/** A principal or resource scope; null means it matches every request. */
export function compileScope(scope: unknown, what: string): ScopeCheck {
  if (typeof scope !== 'object' || scope === null) throw new NotCompilable(`${what} scope shape`);
  const s = scope as Node;
  if ('slot' in s || (typeof s.in === 'object' && s.in !== null && 'slot' in (s.in as Node)))
    throw new NotCompilable(`${what} scope has a template slot`);
  switch (s.op) {
    case 'All':
      return null;
    case '==': {
      const key = literalUid(s.entity).key;
      return (_env, uid) => uid.key === key;
    }
    case 'in':
      return inCheck(literalUid(s.entity).key);
    case 'is': {
      if (typeof s.entity_type !== 'string') throw new NotCompilable(`${what} is type`);
      const type = s.entity_type;
      if (s.in === undefined) return (_env, uid) => uid.type === type;
      const within = inCheck(literalUid((s.in as Node).entity).key);
      return (env, uid) => uid.type === type && within(env, uid);
    }
  }
  throw new NotCompilable(`${what} scope ${String(s.op)}`);
}

/** The action scope as index keys: `exact` (==) or `within` (in: the action or an ancestor). */
export type ActionScope = { all: true } | { all: false; exact: string[]; within: string[] };

export function actionScope(scope: unknown): ActionScope {
  if (typeof scope !== 'object' || scope === null) throw new NotCompilable('action scope shape');
  const s = scope as Node;
  if ('slot' in s) throw new NotCompilable('action scope has a slot');
  switch (s.op) {
    case 'All':
      return { all: true };
    case '==':
      return { all: false, exact: [literalUid(s.entity).key], within: [] };
    case 'in':
      if (Array.isArray(s.entities))
        return { all: false, exact: [], within: s.entities.map((e) => literalUid(e).key) };
      return { all: false, exact: [], within: [literalUid(s.entity).key] };
  }
  throw new NotCompilable(`action scope ${String(s.op)}`);
}

/** Policy numbers by action: every request reads the `all` list plus a few map entries. */
export class ActionIndex {
  private readonly all: number[] = [];
  private readonly exact = new Map<string, number[]>();
  private readonly within = new Map<string, number[]>();
  private readonly seen: Uint32Array;
  private generation = 0;

  constructor(scopes: ActionScope[]) {
    this.seen = new Uint32Array(scopes.length);
    scopes.forEach((scope, i) => {
      if (scope.all) this.all.push(i);
      else {
        for (const k of scope.exact) push(this.exact, k, i);
        for (const k of scope.within) push(this.within, k, i);
      }
    });
  }

  /** The policies whose action scope matches, each once, in policy order. */
  candidates(env: Env): number[] {
    const action = env.action;
    const lists: number[][] = [this.all];
    const exact = this.exact.get(action.key);
    if (exact) lists.push(exact);
    if (this.within.size > 0) {
      const own = this.within.get(action.key);
      if (own) lists.push(own);
      for (const a of env.store.ancestors(action.key)) {
        const list = this.within.get(a);
        if (list) lists.push(list);
      }
    }
    if (lists.length === 1) return this.all;
    if (++this.generation === 0xffffffff) {
      this.seen.fill(0);
      this.generation = 1;
    }
    const out: number[] = [];
    for (const list of lists)
      for (const i of list)
        if (this.seen[i] !== this.generation) {
          this.seen[i] = this.generation;
          out.push(i);
        }
    return out.sort((a, b) => a - b);
  }
}

function push(map: Map<string, number[]>, key: string, i: number) {
  const list = map.get(key);
  if (list) list.push(i);
  else map.set(key, [i]);
}

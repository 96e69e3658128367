/**
 * The compiled Cedar engine against cedar-wasm (`statefulIsAuthorized`, PolicyEvaluator's
 * `cedar-wasm` engine) on the same typical Mandate requests in the same run, and the compiled
 * engine at 10 vs 1,000 policies (only a handful apply to the request's action: the action
 * index should make both cost about the same). Bounded in evaluations and in time.
 *
 *   runCompiledCedar({ samples?: 200, batch?: 50, maxSeconds?: 20 }) -> JSON-able result
 */
import { PolicyEvaluator } from '@mandate/engine';

const uid = (type, id) => ({ type, id });

/** A typical Mandate request: an Agent with a few parents, a resource with ancestors, a small context. */
function typicalRequest(action = 'invoke') {
  const entities = [
    {
      uid: uid('Agent', 'agent-1'),
      attrs: { owner: 'alice', risk: 2, tier: 'gold' },
      parents: [uid('Team', 'ops'), uid('Role', 'reader')],
    },
    { uid: uid('Team', 'ops'), attrs: {}, parents: [uid('Org', 'acme')] },
    { uid: uid('Role', 'reader'), attrs: {}, parents: [] },
    { uid: uid('Org', 'acme'), attrs: { plan: 'pro' }, parents: [] },
    {
      uid: uid('Tool', 'search'),
      attrs: { sensitivity: 1, tags: ['public', 'web'] },
      parents: [uid('Toolbox', 'web')],
    },
    { uid: uid('Toolbox', 'web'), attrs: {}, parents: [uid('Org', 'acme')] },
    { uid: uid('Action', action), attrs: {}, parents: [uid('Action', 'any')] },
  ];
  return {
    principal: uid('Agent', 'agent-1'),
    action: uid('Action', action),
    resource: uid('Tool', 'search'),
    context: { amount: 120, currency: 'EUR', hour: 14, ip: { __extn: { fn: 'ip', arg: '10.1.2.3' } } },
    entities,
  };
}

/** `n` policies: a few on the request's action (as a real org has), the rest on other actions. */
function policies(n) {
  const relevant = [
    'permit(principal in Team::"ops", action == Action::"invoke", resource in Toolbox::"web") when { context.amount < 500 && principal.risk <= 3 };',
    'forbid(principal, action == Action::"invoke", resource) when { resource.sensitivity > 3 };',
    'permit(principal is Agent, action in Action::"any", resource) when { principal.tier == "gold" && resource.tags.contains("public") } unless { context.hour < 6 };',
    'forbid(principal, action, resource) when { context has ip && context.ip.isInRange(ip("192.168.0.0/16")) };',
    'permit(principal in Org::"acme", action == Action::"invoke", resource) when { principal.owner like "al*" && context.currency == "EUR" };',
  ];
  const out = relevant.slice(0, Math.min(n, relevant.length));
  for (let i = out.length; i < n; i++)
    out.push(
      `permit(principal in Team::"t${i % 50}", action == Action::"other-${i}", resource in Toolbox::"tb${i % 20}") when { context.amount < ${i} };`,
    );
  return out.join('\n');
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s[Math.floor(s.length / 2)];
};

/** Median microseconds per evaluation, over `samples` batches of `batch` evaluations (within the deadline). */
function measure(evaluator, request, { samples, batch, deadline }) {
  for (let i = 0; i < 2000; i++) evaluator.evaluate(request); // warm up (JIT, caches)
  const times = [];
  for (let s = 0; s < samples && Date.now() < deadline; s++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) evaluator.evaluate(request);
    times.push(Number(process.hrtime.bigint() - start) / 1000 / batch);
  }
  return { medianMicros: median(times), samples: times.length, batch };
}

export async function runCompiledCedar(params = {}) {
  const samples = params.samples ?? 200;
  const batch = params.batch ?? 50;
  const deadline = Date.now() + (params.maxSeconds ?? 20) * 1000;
  const request = typicalRequest();
  const opts = { samples, batch, deadline };

  const text10 = policies(10);
  const compiled10 = new PolicyEvaluator(text10, undefined, {
    slot: 'bench-compiled-10',
    engine: 'compiled',
  });
  const wasm10 = new PolicyEvaluator(text10, undefined, { slot: 'bench-wasm-10', engine: 'cedar-wasm' });
  const text1000 = policies(1000);
  const compiled1000 = new PolicyEvaluator(text1000, undefined, {
    slot: 'bench-compiled-1000',
    engine: 'compiled',
  });

  // The same answer from both engines, or the timing means nothing.
  const a = compiled10.evaluate(request);
  const b = wasm10.evaluate(request);
  const agree = JSON.stringify(a) === JSON.stringify(b);

  const wasm = measure(wasm10, request, opts);
  const compiled = measure(compiled10, request, opts);
  const compiledAt1000 = measure(compiled1000, request, opts);
  const ratio = (x, y) => (x && y ? Math.round((x / y) * 1000) / 1000 : null);
  return {
    request: 'Agent with 2 parents (3 ancestors), Tool with 2 ancestors, 4 context attributes, 7 entities',
    engines: {
      at10: compiled10.engine,
      at1000: compiled1000.engine,
      fallbackReason: compiled10.fallbackReason ?? null,
    },
    decision: a.ok ? a.decision : 'refused',
    enginesAgree: agree,
    wasmMedianMicros: wasm.medianMicros,
    compiledMedianMicros: compiled.medianMicros,
    compiledOverWasm: ratio(compiled.medianMicros, wasm.medianMicros),
    wasmOverCompiled: ratio(wasm.medianMicros, compiled.medianMicros),
    compiled1000MedianMicros: compiledAt1000.medianMicros,
    compiled1000Over10: ratio(compiledAt1000.medianMicros, compiled.medianMicros),
    samples: { wasm: wasm.samples, compiled: compiled.samples, compiled1000: compiledAt1000.samples, batch },
    answeredByCompiled: compiled10.stats.compiled + compiled1000.stats.compiled,
    answeredByWasmInCompiledEvaluators: compiled10.stats.wasm + compiled1000.stats.wasm,
  };
}

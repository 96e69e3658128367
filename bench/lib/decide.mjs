/**
 * Benchmark 6: the in-process decision pipeline. `engine.decisions.decide` with an agent's
 * (unbound, already verified and cached) token: agent, org, chain, scope, policy, and the
 * durable decision record (the WAL flushed before the answer; concurrent callers share commits and flushes). Baseline in
 * the same run: Cedar's `statefulIsAuthorized` alone (through PolicyEvaluator) on the same
 * policy set and the same entities the policy step passes. Reported as decisions per second and
 * the ratio to the baseline (the goal: everything but policy evaluation adds at most half again).
 */
import { getDefaultPolicyEngine, PolicyEvaluator } from '@mandate/engine';
import { agentWorld } from './agent-world.mjs';
import { log, median, now, round, tick } from './util.mjs';

const ISSUER = 'http://bench.invalid';
const POLICIES = `permit (principal, action, resource) when { context.mandate.delegated == true };
forbid (principal, action, resource) when { context.mandate.action like "iam.*" };
forbid (principal, action, resource) when { resource has blocked && resource.blocked == true };`;

async function setup(dir) {
  const { store, engine, org, admin, user, agent, delegation, creds } = await agentWorld(dir, {
    name: 'decide',
    issuer: ISSUER,
    labels: ['mail'],
    dataClass: 'internal',
  });
  await engine.policies.publish(admin, { policies: POLICIES });
  await engine.entities.put(admin, [
    {
      uid: { type: 'mailbox', id: 'alice/inbox' },
      attrs: { blocked: false },
      parents: [{ type: 'mailbox', id: 'alice' }],
    },
    { uid: { type: 'mailbox', id: 'alice' }, attrs: {}, parents: [] },
  ]);
  const token = await engine.oauth.endpoint.token(
    {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: delegation.id,
      subject_token_type: 'urn:mandate:params:oauth:token-type:delegation',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await creds.clientAssertion('/oauth/token'),
    },
    undefined,
  );
  return { store, engine, org, agent, user, token: token.access_token };
}

async function rate(fn, count, concurrency) {
  let next = 0;
  const start = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        await fn();
      }
    }),
  );
  return count / ((now() - start) / 1000);
}

export async function runDecide({ dir, count, reps, concurrencies }) {
  const { store, engine, org, agent, user, token } = await setup(dir);
  try {
    const request = {
      token,
      scheme: 'Bearer',
      action: 'email.read',
      resource: { type: 'mailbox', id: 'alice/inbox' },
      dataClass: 'internal',
      arguments: { folder: 'inbox' },
    };
    const first = await engine.decisions.decide(request);
    if (first.decision !== 'allow')
      throw new Error(`bench setup: expected allow, got ${JSON.stringify(first.reasons)}`);

    // The baselines: the same policies and the same entities the policy step builds, Cedar alone:
    // the reference engine (cedar-wasm's statefulIsAuthorized), and the compiled engine.
    const evaluator = new PolicyEvaluator(POLICIES, undefined, {
      slot: 'bench-baseline',
      engine: 'cedar-wasm',
    });
    const compiled = new PolicyEvaluator(POLICIES, undefined, { slot: 'bench-compiled', engine: 'compiled' });
    const orgUid = { type: 'Org', id: org.id };
    const owner = { type: 'User', id: user.id };
    const entities = [
      { uid: orgUid, attrs: {}, parents: [] },
      { uid: owner, attrs: {}, parents: [orgUid] },
      { uid: { type: 'Group', id: 'mail' }, attrs: {}, parents: [orgUid] },
      {
        uid: { type: 'Agent', id: agent.id },
        attrs: { name: agent.name, owner: { __entity: owner }, labels: ['mail'], environments: [] },
        parents: [owner, orgUid, { type: 'Group', id: 'mail' }],
      },
      {
        uid: { type: 'mailbox', id: 'alice/inbox' },
        attrs: { blocked: false },
        parents: [{ type: 'mailbox', id: 'alice' }],
      },
      { uid: { type: 'mailbox', id: 'alice' }, attrs: {}, parents: [] },
    ];
    const cedarCall = {
      principal: { type: 'Agent', id: agent.id },
      action: { type: 'Action', id: 'email.read' },
      resource: { type: 'mailbox', id: 'alice/inbox' },
      context: {
        mandate: {
          delegated: true,
          action: 'email.read',
          dataClass: 'internal',
          agent: agent.id,
          rootUser: user.id,
          delegation: 'x',
          chain: [agent.id],
          chainDepth: 0,
          autonomous: false,
          time: new Date().toISOString(),
        },
      },
      entities,
    };
    if (evaluator.evaluate(cedarCall).decision !== 'allow') throw new Error('bench baseline: expected allow');
    if (compiled.engine !== 'compiled' || compiled.evaluate(cedarCall).decision !== 'allow')
      throw new Error('bench baseline: the compiled engine should allow');

    const baselineRuns = [];
    for (let r = 0; r < reps; r++) {
      baselineRuns.push(await rate(async () => evaluator.evaluate(cedarCall), count, 1));
      await tick();
    }
    const baseline = median(baselineRuns);
    const compiledRuns = [];
    for (let r = 0; r < reps; r++) {
      compiledRuns.push(await rate(async () => compiled.evaluate(cedarCall), count, 1));
      await tick();
    }
    const compiledBaseline = median(compiledRuns);
    const byConcurrency = [];
    for (const concurrency of concurrencies) {
      const runs = [];
      for (let r = 0; r < reps; r++) {
        runs.push(await rate(() => engine.decisions.decide(request), count, concurrency));
        await tick();
      }
      const perSecond = median(runs);
      byConcurrency.push({
        concurrency,
        decisionsPerSecond: round(perSecond, 0),
        usPerDecision: round(1e6 / perSecond, 0),
        ratioVsCedarAlone: round(baseline / perSecond, 2),
        ratioVsCompiledCedarAlone: round(compiledBaseline / perSecond, 2),
      });
      log(
        `decide: ${round(perSecond, 0)}/s at ${concurrency} caller(s) (cedar-wasm alone ${round(baseline, 0)}/s, compiled alone ${round(compiledBaseline, 0)}/s)`,
      );
    }
    return {
      count,
      cedarAlone: { evaluationsPerSecond: round(baseline, 0), usPerEvaluation: round(1e6 / baseline, 0) },
      compiledCedarAlone: {
        evaluationsPerSecond: round(compiledBaseline, 0),
        usPerEvaluation: round(1e6 / compiledBaseline, 1),
      },
      policyEngine: getDefaultPolicyEngine(),
      decide: byConcurrency,
      note: 'ratioVsCedarAlone = time per decision / time per cedar-wasm evaluation (1.5 = everything else adds half again); ratioVsCompiledCedarAlone the same against the compiled engine',
    };
  } finally {
    await store.close();
  }
}

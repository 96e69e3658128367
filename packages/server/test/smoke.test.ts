import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAgent, startTestApp, type TestApp } from './harness.js';

describe('harness smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it('registers an agent through the API, pending because an admin key is not its owner', async () => {
    const { agent } = await seedAgent(t, t.adminKey);
    expect(agent.status).toBe('pending');
    const shown = await t.call('GET', `/v1/agents/${agent.id}`, { key: t.adminKey });
    expect(shown.status).toBe(200);
    expect(shown.body.id).toBe(agent.id);
  });
});

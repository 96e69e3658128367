import type { CedarSchema } from './cedar.js';
import { cedar, describeCedarErrors } from './cedar.js';
import { policyTextProblem } from './guard.js';

/**
 * Mandate's own entity types, as policies see them: the acting agent (its parents: its owner,
 * its org, its labels as groups), users, orgs, label groups. An org's declared schema adds its
 * own types and actions; where it declares a type of the same name, its declaration wins.
 */
const MANDATE_TYPES: Record<string, unknown> = {
  Org: {},
  Group: { memberOfTypes: ['Org'] },
  User: { memberOfTypes: ['Org'] },
  Agent: {
    memberOfTypes: ['User', 'Org', 'Group'],
    shape: {
      type: 'Record',
      attributes: {
        name: { type: 'String', required: false },
        owner: { type: 'Entity', name: 'User', required: false },
        labels: { type: 'Set', element: { type: 'String' }, required: false },
        environments: { type: 'Set', element: { type: 'String' }, required: false },
      },
    },
  },
};

export type SchemaResult = { ok: true; schema: CedarSchema } | { ok: false; errors: string[] };

/** The schema published policies are validated against: the org's declarations plus Mandate's types. */
export function validationSchema(orgSchema: string): SchemaResult {
  const problem = policyTextProblem(orgSchema, { countOperators: false });
  if (problem) return { ok: false, errors: [`schema: ${problem}`] };
  const parsed = cedar.schemaToJson(orgSchema);
  if (parsed.type !== 'success')
    return { ok: false, errors: describeCedarErrors(parsed.errors).map((e) => `schema: ${e}`) };
  const json = parsed.json as Record<
    string,
    { entityTypes: Record<string, unknown>; actions: Record<string, unknown> }
  >;
  const root = json[''] ?? { entityTypes: {}, actions: {} };
  for (const [name, type] of Object.entries(MANDATE_TYPES)) {
    if (!(name in root.entityTypes)) root.entityTypes[name] = type;
  }
  json[''] = root;
  return { ok: true, schema: json as CedarSchema };
}

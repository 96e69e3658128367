import type { DecisionAnswer } from '../agent-credentials.js';
import { MandateProtocolError } from '../errors.js';

const DECISIONS = new Set(['allow', 'deny', 'approval_required']);

/**
 * The decision as the API promises it, or a MandateProtocolError. Checked by hand (a few fields,
 * and the SDK stays free of a schema library): an answer that is not exactly an allow is never
 * read as one.
 */
export function parseDecision(value: unknown): DecisionAnswer {
  const answer = value as Partial<DecisionAnswer> | null;
  if (typeof answer !== 'object' || answer === null) throw malformed('not an object');
  if (typeof answer.decision !== 'string' || !DECISIONS.has(answer.decision))
    throw malformed('no decision of allow, deny or approval_required');
  if (typeof answer.decisionId !== 'string' || answer.decisionId === '') throw malformed('no decisionId');
  if (!Array.isArray(answer.reasons) || answer.reasons.some((r) => typeof r?.code !== 'string'))
    throw malformed('reasons is not a list of codes');
  if (answer.decision === 'allow' && answer.reasons.length > 0) throw malformed('an allow with reasons');
  if (answer.decision === 'approval_required' && typeof answer.approval?.id !== 'string')
    throw malformed('approval_required without the approval request');
  return answer as DecisionAnswer;
}

const malformed = (what: string) => new MandateProtocolError(`malformed decision from Mandate: ${what}`);

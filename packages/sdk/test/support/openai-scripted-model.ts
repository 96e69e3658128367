/**
 * A `Model` of the OpenAI Agents SDK that answers from a script (no network): each call returns
 * the next list of output items, and every request it received is kept for assertions.
 */
import type { AgentOutputItem, Model, ModelRequest, ModelResponse, StreamEvent } from '@openai/agents';
import { Usage } from '@openai/agents';

export class ScriptedModel implements Model {
  readonly requests: ModelRequest[] = [];

  constructor(private readonly script: AgentOutputItem[][]) {}

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    this.requests.push(structuredClone(request));
    const output = this.script.shift();
    if (!output) throw new Error('the scripted model has no more answers');
    return { usage: new Usage(), output, responseId: `resp_${this.requests.length}` };
  }

  // biome-ignore lint/correctness/useYield: never streamed in these tests
  async *getStreamedResponse(): AsyncIterable<StreamEvent> {
    throw new Error('the scripted model does not stream');
  }
}

export const functionCall = (callId: string, name: string, args: unknown): AgentOutputItem => ({
  type: 'function_call',
  id: `fc_${callId}`,
  callId,
  name,
  arguments: JSON.stringify(args),
  status: 'completed',
});

export const message = (text: string): AgentOutputItem => ({
  type: 'message',
  id: `msg_${text.length}`,
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text }],
});

/** The tool outputs a request carried, by call id, as text. */
export function toolOutputs(request: ModelRequest | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!request || typeof request.input === 'string') return out;
  for (const item of request.input) {
    if (item.type !== 'function_call_result') continue;
    const output = item.output as unknown;
    out[item.callId] =
      typeof output === 'string'
        ? output
        : (output as { type?: string; text?: string })?.type === 'text'
          ? String((output as { text: string }).text)
          : JSON.stringify(output);
  }
  return out;
}

// The SDK guard around two plain functions: reading a mailbox is in the delegation's scope,
// sending mail is not. Run from the repository root (after `npm run build`):
//   MANDATE_URL=http://127.0.0.1:7070 AGENT_ID=agt_… AGENT_KEY_FILE=agent.jwk DELEGATION_ID=dlg_… \
//     node examples/sdk-guard/guard.mjs
import { createAgentClient, MandateApprovalPendingError, MandateDeniedError } from '@mandate/sdk';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name} (see examples/sdk-guard/guard.mjs)`);
  return value;
};

const mandate = createAgentClient({
  url: env('MANDATE_URL'),
  agentId: env('AGENT_ID'),
  privateKey: env('AGENT_KEY_FILE'), // a JWK or PEM file; the private key never leaves this process
  delegation: env('DELEGATION_ID'),
});

// Your functions, unchanged; the guard says which action and resource each call is.
const readInbox = mandate.guard(
  async (box) => [`3 new messages in ${box}`],
  (box) => ({
    action: 'email.read',
    resource: { type: 'mailbox', id: `alice/${box}` },
    dataClass: 'internal',
  }),
);
const sendMail = mandate.guard(
  async (to, body) => `sent to ${to}: ${body}`,
  (to, body) => ({
    action: 'email.send',
    resource: { type: 'mailbox', id: 'alice/outbox' },
    dataClass: 'internal',
    arguments: { to, length: body.length },
  }),
);

console.log('read:', await readInbox('inbox')); // allowed: runs, and its outcome is recorded
try {
  await sendMail('bob@example.com', 'hello');
  console.log('send: ran');
} catch (error) {
  if (error instanceof MandateDeniedError) console.log(`send: denied (${error.code}), never ran`);
  else if (error instanceof MandateApprovalPendingError)
    console.log(`send: waiting for approval ${error.approvalId}`);
  else throw error; // unreachable server, timeout, malformed answer: the function did not run either
}

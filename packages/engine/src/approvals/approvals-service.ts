import { EventEmitter } from 'node:events';
import { isId } from '@mandate/core';
import { hasPermission, requirePermission } from '../auth/permissions.js';
import type { OrgPrincipal } from '../auth/principal.js';
import type { EngineContext } from '../context.js';
import { invalid, MandateError, notFound } from '../errors.js';
import type { OrgReader, Page, PageRequest } from '../ports/store.js';
import { type Approval, type ApprovalStatus, effectiveApprovalStatus } from './approval.js';
import { getApproval, saveApproval } from './approval-store.js';
import { newWebhookSecret, type WebhookConfig, type WebhookEvent, WebhookSender } from './webhook.js';

const MAX_WAIT_SECONDS = 60;
const MAX_COMMENT = 1000;
const WEBHOOK = 'webhook';

/** What the API shows of an approval: its stored record with its status as of now. */
export type ApprovalView = Approval;

/** What an agent sees of an approval request it caused. */
export interface AgentApprovalStatus {
  id: string;
  status: ApprovalStatus;
  expiresAt: string;
}

/**
 * Approval requests the decision pipeline files, and the humans who decide them. Who may decide:
 * the chain's root user always; otherwise only the users and roles the request names (from a
 * policy), never an agent (agents cannot hold org credentials) and never the owner of an agent
 * of the chain (no one approves their own agent's action unless they are the root user).
 */
export class ApprovalService {
  private readonly changes = new EventEmitter();
  private readonly notifying = new Set<Promise<void>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly webhooks: WebhookSender = new WebhookSender(),
  ) {
    this.changes.setMaxListeners(0);
  }

  /** The pipeline's hook: a request was filed (after its transaction committed). */
  readonly filed = (orgId: string, approval: Approval): void => {
    void this.notify(orgId, { type: 'approval.requested', orgId, approval });
  };

  async list(
    principal: OrgPrincipal,
    filter: { status?: ApprovalStatus },
    page: PageRequest,
  ): Promise<Page<ApprovalView>> {
    requirePermission(principal, 'approvals.read');
    const now = this.ctx.clock.now();
    // Expiry is computed, not written: a pending request past its time lists as expired, under `expired`.
    const stored =
      filter.status === 'expired' ? undefined : filter.status === 'pending' ? 'pending' : filter.status;
    const docs = await this.ctx.store.org(principal.orgId).listDocuments<Approval>('approval', stored, page);
    const items = docs.items
      .map((d) => this.view(d.doc, now))
      .filter((a) => filter.status === undefined || a.status === filter.status);
    return { items, ...(docs.nextCursor ? { nextCursor: docs.nextCursor } : {}) };
  }

  /** One approval; with `waitSeconds`, waits (long-poll) while it is pending. */
  get(principal: OrgPrincipal, approvalId: string, waitSeconds = 0): Promise<ApprovalView> {
    return this.waitWhilePending(principal.orgId, approvalId, waitSeconds, (found) =>
      this.mayRead(principal, found),
    );
  }

  /**
   * What the agent that asked may know of its own request (the SDK guard waits on it): the
   * status and when it ends, never who may decide or what they wrote. Another agent's request,
   * even in the same org, is not found.
   */
  async statusForAgent(
    agent: { orgId: string; agentId: string },
    approvalId: string,
    waitSeconds = 0,
  ): Promise<AgentApprovalStatus> {
    const view = await this.waitWhilePending(
      agent.orgId,
      approvalId,
      waitSeconds,
      (found) => found.agentId === agent.agentId,
    );
    return { id: view.id, status: view.status, expiresAt: view.expiresAt };
  }

  private async waitWhilePending(
    orgId: string,
    approvalId: string,
    waitSeconds: number,
    mayRead: (found: Approval) => boolean,
  ): Promise<ApprovalView> {
    const org = this.ctx.store.org(orgId);
    const deadline = Date.now() + Math.min(MAX_WAIT_SECONDS, Math.max(0, waitSeconds)) * 1000;
    for (;;) {
      const found = isId('approval', approvalId) ? await getApproval(org, approvalId) : undefined;
      if (!found || !mayRead(found)) throw notFound('approval');
      const view = this.view(found, this.ctx.clock.now());
      const left = deadline - Date.now();
      if (view.status !== 'pending' || left <= 0) return view;
      // Woken by a decision in this process; polled for one made by another process.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.changes.off(approvalId, done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 1_000));
        this.changes.on(approvalId, done);
      });
    }
  }

  approve(principal: OrgPrincipal, approvalId: string, comment?: string): Promise<ApprovalView> {
    return this.decide(principal, approvalId, 'approved', comment);
  }

  deny(principal: OrgPrincipal, approvalId: string, comment?: string): Promise<ApprovalView> {
    return this.decide(principal, approvalId, 'denied', comment);
  }

  /**
   * Withdraws a pending request: whoever may decide it, or an admin or operator (cancelling only
   * takes a possible yes away). The agent's next call of the action files a fresh request.
   */
  cancel(principal: OrgPrincipal, approvalId: string, comment?: string): Promise<ApprovalView> {
    return this.decide(principal, approvalId, 'cancelled', comment);
  }

  private async decide(
    principal: OrgPrincipal,
    approvalId: string,
    outcome: 'approved' | 'denied' | 'cancelled',
    comment: string | undefined,
  ): Promise<ApprovalView> {
    if (comment !== undefined && comment.length > MAX_COMMENT)
      throw invalid('comment', `at most ${MAX_COMMENT} characters`);
    if (!isId('approval', approvalId)) throw notFound('approval');
    const org = this.ctx.store.org(principal.orgId);
    const decided = await org.transact(async (tx) => {
      const found = await getApproval(tx, approvalId);
      // Someone who may not even read approvals learns nothing about which exist.
      if (!found || !this.mayRead(principal, found)) throw notFound('approval');
      if (!(outcome === 'cancelled' && hasPermission(principal, 'approvals.cancel')))
        await this.assertMayDecide(principal, found, tx);
      const now = this.ctx.clock.now();
      const status = effectiveApprovalStatus(found, now);
      if (status !== 'pending')
        throw new MandateError(
          'illegal_transition',
          `the approval is ${status}; only a pending one can be decided`,
        );
      const next: Approval = {
        ...found,
        status: outcome,
        decidedBy: {
          kind: principal.actor.kind,
          id: principal.actor.id,
          ...(principal.userId ? { userId: principal.userId } : {}),
        },
        decidedAt: now.toISOString(),
        ...(comment ? { comment } : {}),
      };
      await saveApproval(tx, next);
      await this.ctx.audit.append(tx, {
        type: `approval.${outcome}`,
        actor: principal.actor,
        target: { type: 'approval', id: approvalId },
        refs: {
          agentId: found.agentId,
          delegationId: found.delegationId,
          userId: found.rootUserId,
          decisionId: found.requestedBy,
        },
        after: { status: outcome, digest: found.digest, action: found.action, resource: found.resource },
        ...(comment ? { reason: comment } : {}),
      });
      return next;
    });
    this.changes.emit(approvalId);
    void this.notify(principal.orgId, {
      type: 'approval.decided',
      orgId: principal.orgId,
      approval: decided,
    });
    return this.view(decided, this.ctx.clock.now());
  }

  /**
   * Who may see one approval: readers of approvals, and whoever may decide it (its root user,
   * the users and roles it names), so a named approver without an org role can still act.
   */
  private mayRead(principal: OrgPrincipal, approval: Approval): boolean {
    const userId = principal.userId;
    return (
      hasPermission(principal, 'approvals.read') ||
      (userId !== undefined &&
        (userId === approval.rootUserId || approval.approvers.users.includes(userId))) ||
      approval.approvers.roles.some((role) => principal.roles.includes(role))
    );
  }

  /** The rules of who may decide, in order; each refusal says which. */
  private async assertMayDecide(principal: OrgPrincipal, approval: Approval, tx: OrgReader) {
    if (principal.actor.kind === 'agent') throw new MandateError('forbidden', 'an agent cannot approve');
    const userId = principal.userId;
    // Stored before this field existed: the root user decided then.
    if (userId !== undefined && userId === approval.rootUserId && approval.rootUserDecides !== false) return;
    // No one approves an action of their own agent chain, unless they are its root user.
    if (userId !== undefined) {
      for (const agentId of approval.chain) {
        const agent = await tx.getAgent(agentId);
        if (agent?.ownerId === userId)
          throw new MandateError(
            'forbidden',
            'you own an agent of this chain: only its root user can approve',
          );
      }
    }
    const named =
      (userId !== undefined && approval.approvers.users.includes(userId)) ||
      approval.approvers.roles.some((role) => principal.roles.includes(role));
    if (!named)
      throw new MandateError(
        'forbidden',
        approval.approvers.users.length + approval.approvers.roles.length === 0
          ? 'only the root user of the chain can decide this approval'
          : 'you are not one of the approvers this request names',
      );
  }

  /**
   * The AuthZEN access-request profile's submission, for a PEP (a `pep` key): Mandate filed the
   * request when it denied, so the submission names that denial (`denial.evaluation_id`, the
   * decision id) and gets its task handle. A denial of another org, or one that filed nothing,
   * is refused; so is one past `expires_at`.
   */
  async taskForDenial(principal: OrgPrincipal, evaluationId: string): Promise<ApprovalView> {
    requirePermission(principal, 'decisions.evaluate');
    const org = this.ctx.store.org(principal.orgId);
    const seq = /^\d{1,15}$/.test(evaluationId) ? Number(evaluationId) : -1;
    const record = seq >= 0 ? await org.getAuditRecord(seq) : undefined;
    const approvalId = (record?.after as { approval?: { id?: string } } | undefined)?.approval?.id;
    const result = (record?.after as { result?: string } | undefined)?.result;
    // Only a denial is requestable: an allow that used an approval is not a submission.
    if (record?.type !== 'decision' || result === 'allow' || typeof approvalId !== 'string')
      throw invalid('denial.evaluation_id', 'not a denial of this org that asked for approval');
    const found = await getApproval(org, approvalId);
    if (!found) throw invalid('denial.evaluation_id', 'not a denial of this org that asked for approval');
    const view = this.view(found, this.ctx.clock.now());
    if (view.status === 'expired') throw invalid('denial.expires_at', 'the requestable denial has expired');
    return view;
  }

  /** A task's status for the PEP that holds its handle. */
  async task(principal: OrgPrincipal, approvalId: string): Promise<ApprovalView> {
    requirePermission(principal, 'decisions.evaluate');
    const found = isId('approval', approvalId)
      ? await getApproval(this.ctx.store.org(principal.orgId), approvalId)
      : undefined;
    if (!found) throw notFound('access request');
    return this.view(found, this.ctx.clock.now());
  }

  /** Sets the org's webhook; the signing secret is returned once. */
  async setWebhook(principal: OrgPrincipal, url: string): Promise<{ url: string; secret: string }> {
    requirePermission(principal, 'approvals.webhook');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalid('url', 'not a URL');
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
      throw invalid('url', 'http or https only');
    if (parsed.username || parsed.password) throw invalid('url', 'no credentials in the URL');
    const config: WebhookConfig = {
      url: parsed.toString(),
      secret: newWebhookSecret(),
      createdAt: this.ctx.clock.now().toISOString(),
    };
    await this.ctx.store.org(principal.orgId).transact(async (tx) => {
      await tx.putDocument('settings', { id: WEBHOOK, tag: WEBHOOK, doc: config });
      await this.ctx.audit.append(tx, {
        type: 'webhook.configured',
        actor: principal.actor,
        target: { type: 'webhook', id: WEBHOOK },
        // Origin and path only: a query string often carries a token auditors should not read.
        after: { url: `${parsed.origin}${parsed.pathname}` },
      });
    });
    return { url: config.url, secret: config.secret };
  }

  async getWebhook(principal: OrgPrincipal): Promise<{ url?: string; createdAt?: string }> {
    requirePermission(principal, 'approvals.webhook');
    const found = await this.ctx.store.org(principal.orgId).getDocument<WebhookConfig>('settings', WEBHOOK);
    return found ? { url: found.doc.url, createdAt: found.doc.createdAt } : {};
  }

  /** Waits for notifications being prepared and webhook deliveries in flight. */
  async settle(): Promise<void> {
    while (this.notifying.size > 0) await Promise.allSettled([...this.notifying]);
    await this.webhooks.settle();
  }

  private notify(orgId: string, event: WebhookEvent): Promise<void> {
    const run = (async () => {
      const config = await this.ctx.store.org(orgId).getDocument<WebhookConfig>('settings', WEBHOOK);
      if (config) this.webhooks.send(config.doc, event);
    })()
      .catch(() => undefined)
      .finally(() => this.notifying.delete(run));
    this.notifying.add(run);
    return run;
  }

  private view(approval: Approval, now: Date): ApprovalView {
    return { ...approval, status: effectiveApprovalStatus(approval, now) };
  }
}

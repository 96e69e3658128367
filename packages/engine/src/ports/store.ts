import type { AgentStatus, AuditEventInput, AuditRecord } from '@mandate/core';
import type {
  Agent,
  ApiKey,
  Delegation,
  Org,
  PlatformKey,
  PolicyVersion,
  RevokedToken,
  StoredEntity,
  TokenSigningKeyRecord,
  User,
} from './records.js';

/**
 * Storage, as the engine sees it. The only way to org data is `store.org(orgId)`: every
 * method below it is bound to that org, so no code path can read or write across orgs.
 * `platform` holds what sits above orgs (the org list, platform keys) and the one
 * cross-org lookup authentication needs: an API key by its id.
 */
export interface Store {
  readonly platform: PlatformStore;
  org(orgId: string): OrgStore;
  /** Resolves when the store can serve requests (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `after` for the next page; absent on the last page. */
  nextCursor?: string;
}

export interface PageRequest {
  limit: number;
  /** Exclusive lower bound: the id (or audit seq) of the last item of the previous page. */
  after?: string;
}

export interface PlatformStore {
  listOrgs(page: PageRequest): Promise<Page<Org>>;
  getOrg(orgId: string): Promise<Org | undefined>;
  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;
  /** Authentication only: the key with this id in whichever org holds it. */
  findApiKey(keyId: string): Promise<ApiKey | undefined>;
  getPlatformKey(keyId: string): Promise<PlatformKey | undefined>;
  insertPlatformKey(key: PlatformKey): Promise<void>;
  countPlatformKeys(): Promise<number>;
  /** Records an API key's use; not audited (it is not a change of authority). */
  touchApiKey(keyId: string, at: string): Promise<void>;
  /** Client authentication only: the org that holds the agent with this id. */
  findAgentOrg(agentId: string): Promise<string | undefined>;
  listTokenSigningKeys(): Promise<TokenSigningKeyRecord[]>;
  /** Inserts or replaces each key by kid, all in one transaction (a rotation is atomic). */
  saveTokenSigningKeys(keys: TokenSigningKeyRecord[]): Promise<void>;
}

export interface AgentFilter {
  status?: AgentStatus;
  ownerId?: string;
  label?: string;
  environment?: string;
  /** Matches agents whose name starts with this text. */
  namePrefix?: string;
}

export interface DelegationFilter {
  delegateAgentId?: string;
  rootUserId?: string;
  status?: Delegation['status'];
  parentId?: string;
}

export interface UserFilter {
  status?: User['status'];
  kind?: User['kind'];
}

export interface AuditFilter {
  type?: string;
  agentId?: string;
  userId?: string;
  delegationId?: string;
  decisionId?: string;
  /** The id of the object the record is about. */
  targetId?: string;
  /** Inclusive ISO-8601 bounds. */
  since?: string;
  until?: string;
}

/** Reads of one org's data. `now` decides which agents count as expired. */
export interface OrgReader {
  readonly orgId: string;
  getOrg(): Promise<Org | undefined>;
  getAgent(agentId: string): Promise<Agent | undefined>;
  listAgents(filter: AgentFilter, page: PageRequest, now: Date): Promise<Page<Agent>>;
  /** The agent holding a key with this thumbprint (active or retired), if any. */
  findAgentByKid(kid: string): Promise<Agent | undefined>;
  getUser(userId: string): Promise<User | undefined>;
  findUserBySubject(issuer: string, subject: string): Promise<User | undefined>;
  listUsers(filter: UserFilter, page: PageRequest): Promise<Page<User>>;
  /** Agents owned by the user that are not revoked. */
  countLiveAgentsOwnedBy(userId: string): Promise<number>;
  getDelegation(delegationId: string): Promise<Delegation | undefined>;
  listDelegations(filter: DelegationFilter, page: PageRequest): Promise<Page<Delegation>>;
  /** The delegation and every delegation below it, in chain order (parents before children). */
  listDelegationSubtree(delegationId: string): Promise<Delegation[]>;
  getApiKey(keyId: string): Promise<ApiKey | undefined>;
  listApiKeys(page: PageRequest): Promise<Page<ApiKey>>;
  getAuditRecord(seq: number): Promise<AuditRecord | undefined>;
  /** The stored canonical bytes of a record, exactly as appended. */
  getAuditCanonical(seq: number): Promise<string | undefined>;
  listAuditRecords(filter: AuditFilter, page: PageRequest): Promise<Page<AuditRecord>>;
  auditLogSize(): Promise<number>;
  /** Canonical records with seq in [from, from + limit), never beyond the log's size. */
  listAuditCanonical(from: number, limit: number): Promise<Array<{ seq: number; canonical: string }>>;
  /** The root of the complete subtree (level, index), if that subtree is complete. */
  getMerkleNode(level: number, index: number): Promise<Uint8Array | undefined>;
  /** Stored leaf hashes for seq in [from, from + limit). */
  listLeafHashes(from: number, limit: number): Promise<Uint8Array[]>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  getCheckpoint(size: number): Promise<StoredCheckpoint | undefined>;
  /** Checkpoints with size > after, ascending. */
  listCheckpoints(page: PageRequest): Promise<Page<StoredCheckpoint>>;
  /** Whether the access token with this jti was revoked (RFC 7009). */
  isTokenRevoked(jti: string): Promise<boolean>;
  getPolicyVersion(version: number): Promise<PolicyVersion | undefined>;
  /** Versions with number > after, ascending. */
  listPolicyVersions(page: PageRequest): Promise<Page<PolicyVersion>>;
  /** The version in force (absent: the built-in baseline). */
  activePolicyVersion(): Promise<number | undefined>;
  latestPolicyVersion(): Promise<number>;
  getEntity(type: string, id: string): Promise<StoredEntity | undefined>;
  /** Entities of one type (all types if absent), ordered by type then id. */
  listEntities(type: string | undefined, page: PageRequest): Promise<Page<StoredEntity>>;
  getDocument<T>(kind: DocumentKind, id: string): Promise<StoredDocument<T> | undefined>;
  /** Documents of a kind (with this tag, if given), ordered by id. */
  listDocuments<T>(
    kind: DocumentKind,
    tag: string | undefined,
    page: PageRequest,
  ): Promise<Page<StoredDocument<T>>>;
}

/**
 * The live-context state (kill-switch locks, limit usage, risk baselines, approvals, org
 * settings) is kept as documents by kind and id, as node-oidc-provider's adapter keeps its
 * models: one small contract instead of a table and six methods per feature. `tag` is an
 * indexed label a kind may list by (an approval's status, a lock's `active`).
 */
export type DocumentKind =
  | 'lock'
  | 'usage'
  | 'baseline'
  | 'approval'
  | 'approval_ref'
  | 'settings'
  | 'delivery';

export interface StoredDocument<T = unknown> {
  id: string;
  tag: string;
  doc: T;
}

export interface StoredCheckpoint {
  size: number;
  root: Uint8Array;
  /** The signed note, exactly as served. */
  note: string;
  signedAt: string;
}

/**
 * Writes happen only inside a transaction: the change and its audit record commit together
 * or not at all. `update*` take the version the caller read and fail with a ConflictError
 * if someone else wrote in between.
 */
export interface OrgTransaction extends OrgReader {
  insertOrg(org: Org): Promise<void>;
  updateOrg(org: Org, expectedVersion: number): Promise<void>;
  insertAgent(agent: Agent): Promise<void>;
  updateAgent(agent: Agent, expectedVersion: number): Promise<void>;
  insertUser(user: User): Promise<void>;
  updateUser(user: User, expectedVersion: number): Promise<void>;
  insertDelegation(delegation: Delegation): Promise<void>;
  updateDelegation(delegation: Delegation, expectedVersion: number): Promise<void>;
  insertApiKey(key: ApiKey): Promise<void>;
  updateApiKey(key: ApiKey, expectedVersion: number): Promise<void>;
  /**
   * Appends a record with the next sequence number of this org's log, and its Merkle leaf and
   * every subtree root it completes, in this same transaction.
   */
  appendAudit(event: AuditEventInput, time: string): Promise<AuditRecord>;
  /**
   * Sets a platform setting in this transaction; throws DuplicateError if it is already set
   * (so that, for example, only one default org can ever be recorded).
   */
  claimSetting(key: string, value: string): Promise<void>;
  /** Throws DuplicateError if a checkpoint of this size exists. */
  insertCheckpoint(checkpoint: StoredCheckpoint): Promise<void>;
  /** Records a revoked access token; revoking one twice keeps the first record. */
  insertRevokedToken(token: RevokedToken): Promise<void>;
  /** Throws DuplicateError if this version number exists. */
  insertPolicyVersion(version: PolicyVersion): Promise<void>;
  setActivePolicyVersion(version: number): Promise<void>;
  /** Inserts or replaces the entity with this uid. */
  putEntity(entity: StoredEntity): Promise<void>;
  /** True if there was one. */
  deleteEntity(type: string, id: string): Promise<boolean>;
  /** Inserts or replaces the document with this kind and id. */
  putDocument<T>(kind: DocumentKind, document: StoredDocument<T>): Promise<void>;
}

export interface OrgStore extends OrgReader {
  /**
   * Runs `work` in one transaction. It resolves only once the transaction is durable; if
   * `work` throws, nothing it wrote is kept and the promise rejects with that error.
   */
  transact<T>(work: (tx: OrgTransaction) => Promise<T>): Promise<T>;
}

/** Optimistic concurrency lost: reread and retry, or report 409. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/** A unique constraint (an id, a user's issuer+subject, an agent key) already holds the value. */
export class DuplicateError extends Error {
  override readonly name = 'DuplicateError';
}

import fs from 'node:fs';
import path from 'node:path';

/** The last checkpoint signed for an org: its size and root (base64). */
export interface SignedHead {
  size: number;
  root: string;
}

/**
 * Where the signer remembers what it last signed, outside the database: whoever can rewrite
 * the database (and delete its checkpoints) must not be able to get a rewritten log signed.
 */
export interface SignedHeadStore {
  get(orgId: string): SignedHead | undefined;
  /** Records a newer head; never moves a head backwards. */
  advance(orgId: string, head: SignedHead): void;
}

export class MemorySignedHeadStore implements SignedHeadStore {
  private readonly heads = new Map<string, SignedHead>();
  get(orgId: string): SignedHead | undefined {
    return this.heads.get(orgId);
  }
  advance(orgId: string, head: SignedHead): void {
    const current = this.heads.get(orgId);
    if (!current || head.size > current.size) this.heads.set(orgId, head);
  }
}

/** A JSON file beside the log signing key (mode 0600), replaced atomically on every advance. */
export class FileSignedHeadStore implements SignedHeadStore {
  private readonly heads: Record<string, SignedHead>;

  constructor(private readonly file: string) {
    if (!fs.existsSync(file)) {
      this.heads = {};
      return;
    }
    try {
      this.heads = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, SignedHead>;
    } catch (error) {
      throw new Error(`${file}: unreadable signed-head file (${(error as Error).message})`);
    }
  }

  get(orgId: string): SignedHead | undefined {
    return this.heads[orgId];
  }

  advance(orgId: string, head: SignedHead): void {
    const current = this.heads[orgId];
    if (current && head.size <= current.size) return;
    this.heads[orgId] = head;
    const temp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${process.pid}.tmp`);
    const fd = fs.openSync(temp, 'w', 0o600);
    try {
      fs.writeSync(fd, `${JSON.stringify(this.heads)}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, this.file);
  }
}

/// <reference types="node" />
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { canonicalize } from '@mandate/core';

/** What is pinned of a tool: what the model reads and what it may send. */
export interface ToolDefinition {
  name: string;
  description?: string;
  inputSchema: unknown;
}

export interface Pin {
  hash: string;
  pinnedAt: string;
  /** Set when an operator accepted a changed definition. */
  acceptedAt?: string;
}

export type PinStatus =
  | { status: 'pinned'; hash: string }
  | { status: 'new'; hash: string }
  | { status: 'changed'; hash: string; pinned: string };

/** SHA-256 of the RFC 8785 canonical JSON of name, description and input schema. */
export function definitionHash(tool: ToolDefinition): string {
  const pinned = {
    name: tool.name,
    description: tool.description ?? '',
    inputSchema: tool.inputSchema ?? null,
  };
  return createHash('sha256')
    .update(canonicalize(pinned as never), 'utf8')
    .digest('hex');
}

/**
 * Tool pins, kept in a state file beside the gateway's config (not in Mandate): the gateway must
 * refuse a changed tool before it asks anyone, even when Mandate is unreachable, and the file is
 * what the operator's `mandate mcp-gateway tools accept` edits. Every pin, change and acceptance
 * is still sent to Mandate's audit log as an event (mcp.tool.*). The file is re-read when it
 * changes on disk, so an acceptance reaches a running gateway; it is written atomically (0600).
 */
export class PinStore {
  private pins: Record<string, Pin> = {};
  private loadedMtime = -1;

  constructor(readonly file: string) {
    this.reload();
  }

  /** The pin state of one upstream tool (`<upstream>/<tool>`), after reading any change on disk. */
  check(id: string, tool: ToolDefinition): PinStatus {
    this.reload();
    const hash = definitionHash(tool);
    const pin = this.pins[id];
    if (!pin) return { status: 'new', hash };
    return pin.hash === hash ? { status: 'pinned', hash } : { status: 'changed', hash, pinned: pin.hash };
  }

  /** First sight: trust on first use. */
  pin(id: string, hash: string): void {
    this.reload();
    if (this.pins[id]) return;
    this.pins[id] = { hash, pinnedAt: new Date().toISOString() };
    this.save();
  }

  /** An operator accepts the current definition. */
  accept(id: string, hash: string): void {
    this.reload();
    const now = new Date().toISOString();
    this.pins[id] = { hash, pinnedAt: this.pins[id]?.pinnedAt ?? now, acceptedAt: now };
    this.save();
  }

  get(id: string): Pin | undefined {
    this.reload();
    return this.pins[id];
  }

  private reload(): void {
    let mtime: number;
    try {
      mtime = fs.statSync(this.file).mtimeMs;
    } catch {
      this.pins = {};
      this.loadedMtime = -1;
      return;
    }
    if (mtime === this.loadedMtime) return;
    const parsed = JSON.parse(fs.readFileSync(this.file, 'utf8')) as { pins?: Record<string, Pin> };
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.pins !== 'object')
      throw new Error(`${this.file}: not a pin file`);
    this.pins = parsed.pins ?? {};
    this.loadedMtime = mtime;
  }

  private save(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify({ version: 1, pins: this.pins }, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.loadedMtime = fs.statSync(this.file).mtimeMs;
  }
}

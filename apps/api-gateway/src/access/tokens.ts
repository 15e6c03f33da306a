import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Role, notFound } from '@mdm/contracts/core';
import { Database, GroupCommit } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { LOGGER, SERVICE_CONFIG } from '@mdm/platform/http';
import { Logger } from '@mdm/platform/logging';
import type { GatewayConfig } from '../gateway.config';

export type Principal =
  | { kind: 'operator' }
  | { kind: 'tenant'; tokenId: string; tenantId: string; role: Role };

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
/** 256 random bits: a token cannot be guessed, so a plain SHA-256 is the right hash to store. */
const newToken = () => `mdm_${randomBytes(32).toString('base64url')}`;
const tokenStream = (tokenId: string) => `token-${tokenId}`;

interface TokenRow {
  token_id: string;
  tenant_id: string;
  role: Role;
}

/** Tenant tokens: random, stored only as hashes, revocable at once; and the operator token. */
@Injectable()
export class Tokens {
  readonly operatorToken: string;
  /**
   * Calls that arrive together are authenticated by one statement (no cache: each lookup reads the
   * table after its call arrived, so a revoked token stops working at once).
   */
  private readonly lookups = new GroupCommit<string, TokenRow | undefined>((hashes) => this.lookup(hashes), { maxBatch: 200 });

  constructor(
    private readonly db: Database,
    private readonly store: EventStore,
    @Inject(SERVICE_CONFIG) config: GatewayConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    // Required in production (the gateway's definition says so, and its configuration refuses to start without it).
    const configured = config.MDM_OPERATOR_TOKEN;
    this.operatorToken = configured ?? newToken();
    if (!configured) {
      // Shown on the terminal, never in the JSON log: logs are shipped and kept, the token would outlive its session there.
      logger.warn('MDM_OPERATOR_TOKEN unset: generated a development operator token (printed on stderr)');
      process.stderr.write(`development operator token: ${this.operatorToken}\n`);
    }
  }

  async resolve(token: string): Promise<Principal | undefined> {
    if (sameSecret(token, this.operatorToken)) return { kind: 'operator' };
    const row = await this.lookups.submit(hash(token));
    return row && { kind: 'tenant', tokenId: row.token_id, tenantId: row.tenant_id, role: row.role };
  }

  /** Live tokens by hash, one statement for all those asked at once. */
  private async lookup(hashes: string[]): Promise<(TokenRow | undefined)[]> {
    const rows = await this.db.query<TokenRow & { token_hash: string }>(
      'select token_hash, token_id, tenant_id, role from access_tokens where token_hash = any($1::text[]) and revoked_at is null',
      [[...new Set(hashes)]],
    );
    const byHash = new Map(rows.map((r) => [r.token_hash, r]));
    return hashes.map((h) => byHash.get(h));
  }

  async issue(tenantId: string, role: Role, actor: string): Promise<{ tokenId: string; token: string; role: Role }> {
    const tokenId = randomUUID();
    const token = newToken();
    const tokenHash = hash(token);
    await this.db.transaction(async (sql) => {
      const { envelopes } = await this.store.append(
        tokenStream(tokenId),
        [{ type: 'TokenIssued', data: { tokenId, tenantId, role, tokenHash } }],
        { expectedVersion: 0, tenantId, actor },
        sql,
      );
      await sql.query(
        'insert into access_tokens (token_id, tenant_id, role, token_hash, created_at) values ($1, $2, $3, $4, $5)',
        [tokenId, tenantId, role, tokenHash, envelopes[0].recordedAt],
      );
    });
    return { tokenId, token, role };
  }

  /** The tenant's live tokens, oldest first; the cursor is the number of tokens already listed (there are few). */
  async list(tenantId: string, limit: number, cursor?: string) {
    const offset = Number(cursor ?? 0);
    const rows = await this.db.query<{ token_id: string; role: Role; created_at: Date }>(
      `select token_id, role, created_at from access_tokens where tenant_id = $1 and revoked_at is null
        order by created_at, token_id offset $2 limit $3`,
      [tenantId, offset, limit + 1],
    );
    const items = rows.slice(0, limit).map((r) => ({ tokenId: r.token_id, role: r.role, createdAt: r.created_at.toISOString() }));
    return { items, nextCursor: rows.length > limit ? String(offset + limit) : null };
  }

  /** Revoking a token of another tenant, or one already revoked, is a 404. */
  async revoke(tenantId: string, tokenId: string, actor: string): Promise<void> {
    await this.db.transaction(async (sql) => {
      const [row] = await sql.query<{ token_id: string }>(
        'select token_id from access_tokens where token_id = $1 and tenant_id = $2 and revoked_at is null for update',
        [tokenId, tenantId],
      );
      if (!row) throw notFound('token');
      const { envelopes } = await this.store.append(
        tokenStream(tokenId),
        [{ type: 'TokenRevoked', data: { tokenId } }],
        { expectedVersion: 1, tenantId, actor },
        sql,
      );
      await sql.query('update access_tokens set revoked_at = $2 where token_id = $1', [tokenId, envelopes[0].recordedAt]);
    });
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

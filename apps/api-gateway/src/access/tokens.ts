import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Role } from '@mdm/contracts/core';
import { Database, GroupCommit, Sql } from '@mdm/platform/database';
import { CommandHandler, CommandResult, EventStore } from '@mdm/platform/event-store';
import { LOGGER, SERVICE_CONFIG } from '@mdm/platform/http';
import { Logger } from '@mdm/platform/logging';
import type { GatewayConfig } from '../gateway.config';
import { TokenEvent, TokenHistoryEvent, TokenState, issueToken, revokeToken, toTokenEvent, tokenEvolver, tokenStreamId } from './token-lifecycle';

export type Principal =
  | { kind: 'operator' }
  | { kind: 'tenant'; tokenId: string; tenantId: string; role: Role };

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
/** 256 random bits: a token cannot be guessed, so a plain SHA-256 is the right hash to store. */
const newToken = () => `mdm_${randomBytes(32).toString('base64url')}`;

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
  /** Each command's token row is written in the transaction that appends its event. */
  private readonly commands: CommandHandler<TokenState, TokenHistoryEvent, TokenEvent>;

  constructor(
    private readonly db: Database,
    store: EventStore,
    @Inject(SERVICE_CONFIG) config: GatewayConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.commands = new CommandHandler(store, db, { evolver: tokenEvolver, toEvent: toTokenEvent, transactional: true, project: saveTokenRow });
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
    await this.commands.handle(tokenStreamId(tokenId), (state) => issueToken(state, { tokenId, tenantId, role, tokenHash: hash(token) }), { tenantId, actor });
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
    await this.commands.handle(tokenStreamId(tokenId), revokeToken, { tenantId, actor });
  }
}

/** The lookup's row of a token as its stream now stands. */
async function saveTokenRow(sql: Sql, _tenantId: string, { state }: CommandResult<TokenState, TokenEvent>): Promise<void> {
  await sql.query(
    `insert into access_tokens (token_id, tenant_id, role, token_hash, created_at, revoked_at) values ($1, $2, $3, $4, $5, $6)
     on conflict (token_id) do update set revoked_at = excluded.revoked_at`,
    [state.tokenId, state.tenantId, state.role, state.tokenHash, state.issuedAt, state.revokedAt],
  );
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@mdm/platform/clock';
import { Database, GroupCommit } from '@mdm/platform/database';
import { Logger, currentContext } from '@mdm/platform/logging';
import { CLOCK, LOGGER } from '@mdm/platform/http';
import { actorOf } from './access/access';
import { Principal } from './access/tokens';

export interface AuditRecord {
  tenantId: string;
  actor: string;
  action: string;
  target: string;
  status: number;
  /** The error code of a refusal. */
  code?: string;
}

type Row = AuditRecord & { at: Date; correlationId: string };

/** An audited call as the gateway answered it, whichever path (pass-through or its own dispatcher) served it. */
export interface AuditedCall {
  action: string;
  path: string;
  principal: Principal | undefined;
  status: number;
  code?: string;
  /** The tenant the answer is about, for a call made by no tenant's principal (the operator's tenant registration). */
  answeredTenantId?: string;
}

/** DESIGN.md §4: every admin command with actor, time, tenant and outcome. */
@Injectable()
export class AuditLog {
  private readonly writes = new GroupCommit<Row, void>((rows) => this.insert(rows), { maxBatch: 200 });

  constructor(
    private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Audits a call in its tenant. Only calls that reached their own tenant are audited there: a probe
   * of another tenant leaves no trace in it. A failed write is logged and never fails the call.
   */
  async recordCall(call: AuditedCall): Promise<void> {
    const { principal } = call;
    const tenantId = principal?.kind === 'tenant' ? principal.tenantId : call.answeredTenantId;
    const inOwnTenant = principal?.kind === 'tenant' ? call.path.includes(`/tenants/${principal.tenantId}`) : true;
    if (!tenantId || !inOwnTenant) return;
    await this.record({ tenantId, actor: actorOf(principal), action: call.action, target: call.path, status: call.status, code: call.code }).catch(
      (err) => this.logger.error({ err }, 'audit write failed'),
    );
  }

  /** Written before the call answers; commands answered together are written together (group commit). */
  async record(r: AuditRecord): Promise<void> {
    await this.writes.submit({ ...r, at: this.clock.now(), correlationId: currentContext().correlationId ?? '' });
  }

  private async insert(rows: Row[]): Promise<void[]> {
    await this.db.query(
      `insert into audit_log (tenant_id, at, actor, action, target, outcome, status, correlation_id)
       select * from unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[])`,
      [
        rows.map((r) => r.tenantId),
        rows.map((r) => r.at),
        rows.map((r) => r.actor),
        rows.map((r) => r.action),
        rows.map((r) => r.target),
        rows.map((r) => (r.status < 400 ? 'success' : `failure:${r.code ?? r.status}`)),
        rows.map((r) => r.status),
        rows.map((r) => r.correlationId),
      ],
    );
    return rows.map(() => undefined);
  }

  async page(tenantId: string, limit: number, cursor?: string) {
    const rows = await this.db.query<{ id: string; at: Date; actor: string; action: string; target: string; outcome: string }>(
      `select id::text, at, actor, action, target, outcome from audit_log
        where tenant_id = $1 and ($2::bigint is null or id < $2::bigint)
        order by id desc limit $3`,
      [tenantId, cursor ?? null, limit + 1],
    );
    const items = rows.slice(0, limit);
    return {
      items: items.map(({ at, actor, action, target, outcome }) => ({ at: at.toISOString(), actor, action, target, outcome })),
      nextCursor: rows.length > limit ? items[items.length - 1].id : null,
    };
  }
}

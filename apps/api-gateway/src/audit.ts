import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@mdm/platform/clock';
import { Database, GroupCommit } from '@mdm/platform/database';
import { currentContext } from '@mdm/platform/logging';
import { ServiceRuntime } from '@mdm/platform/http';

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

/** DESIGN.md §4: every admin command with actor, time, tenant and outcome. */
@Injectable()
export class AuditLog {
  private readonly clock: Clock;
  private readonly writes = new GroupCommit<Row, void>((rows) => this.insert(rows), { maxBatch: 200 });

  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(ServiceRuntime) runtime: ServiceRuntime,
  ) {
    this.clock = runtime.clock;
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

import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@mdm/platform/clock';
import { Database } from '@mdm/platform/database';
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

/** DESIGN.md §4: every admin command with actor, time, tenant and outcome. */
@Injectable()
export class AuditLog {
  private readonly clock: Clock;

  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(ServiceRuntime) runtime: ServiceRuntime,
  ) {
    this.clock = runtime.clock;
  }

  async record(r: AuditRecord): Promise<void> {
    const outcome = r.status < 400 ? 'success' : `failure:${r.code ?? r.status}`;
    await this.db.query(
      `insert into audit_log (tenant_id, at, actor, action, target, outcome, status, correlation_id)
       values ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [r.tenantId, this.clock.now(), r.actor, r.action, r.target, outcome, r.status, currentContext().correlationId ?? ''],
    );
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

import { DomainError } from '@mdm/contracts/core';
import { Sql } from '@mdm/platform/database';
import { CallSigner, callService } from '@mdm/platform/http-client';
import { Logger } from '@mdm/platform/logging';

/** What the owning service reports: the newest published version of each of a tenant's streams. */
export interface PublishedVersions {
  streams: Record<string, number>;
}

export interface ReadYourWritesOptions {
  db: Sql;
  /** Signs the question to the owner, which answers only the services it names. */
  signer: CallSigner;
  logger: Logger;
  /** How long a command may wait for the consumer to catch up before it is refused. */
  timeoutMs?: number;
  pollMs?: number;
}

/**
 * Read-your-writes across services (API.md: a command that returned 2xx is visible to every later
 * command). Before a command that depends on another service's state, ask the owner which versions
 * of the tenant's streams it has published, and wait, bounded, until this service's inbox has
 * applied them. The services stay separate: they share no tables and learn state only from events.
 */
export class ReadYourWrites {
  constructor(private readonly options: ReadYourWritesOptions) {}

  /** Waits until every stream of `tenantId` whose id starts with one of `prefixes` is caught up with `ownerUrl`. */
  catchUp(ownerUrl: string, tenantId: string, prefixes: string[]): Promise<void> {
    return this.catchUpAll(tenantId, [{ ownerUrl, prefixes }]);
  }

  /** The same with several owners at once: asked in parallel, then one wait for all their streams. */
  async catchUpAll(tenantId: string, owners: { ownerUrl: string; prefixes: string[] }[]): Promise<void> {
    const answers = await Promise.all(owners.map(({ ownerUrl, prefixes }) => this.published(ownerUrl, tenantId, prefixes)));
    const wanted: Record<string, number> = Object.assign({}, ...answers);
    const ids = Object.keys(wanted);
    if (ids.length === 0) return;
    const deadline = Date.now() + (this.options.timeoutMs ?? 3000);
    for (;;) {
      const rows = await this.options.db.query<{ stream_id: string; version: string }>(
        'select stream_id, version::text from consumed_streams where stream_id = any($1::text[])',
        [ids],
      );
      const applied = new Map(rows.map((r) => [r.stream_id, Number(r.version)]));
      const behind = ids.filter((id) => (applied.get(id) ?? 0) < wanted[id]);
      if (behind.length === 0) return;
      if (Date.now() > deadline) {
        throw new DomainError(503, 'DEPENDENCY_LAGGING', 'the events this command depends on have not arrived yet; retry', {
          behind,
        });
      }
      await new Promise((r) => setTimeout(r, this.options.pollMs ?? 10));
    }
  }

  private async published(ownerUrl: string, tenantId: string, prefixes: string[]): Promise<Record<string, number>> {
    const url = new URL(`/internal/tenants/${tenantId}/published-versions`, ownerUrl);
    for (const p of prefixes) url.searchParams.append('prefix', p);
    try {
      const res = await callService(url, { signer: this.options.signer });
      if (!res.ok) throw new Error(`${res.status}`);
      return (res.body as PublishedVersions).streams;
    } catch (err) {
      throw new DomainError(503, 'SERVICE_UNAVAILABLE', `cannot confirm the latest state with ${url.host}`, {
        cause: (err as Error).message,
      });
    }
  }
}

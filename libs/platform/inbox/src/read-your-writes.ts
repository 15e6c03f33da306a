import { DomainError } from '@mdm/contracts/core';
import { Sql } from '@mdm/platform/database';
import type { StreamQuery } from '@mdm/platform/event-store';
import { CallSigner, callService } from '@mdm/platform/http-client';
import { Logger } from '@mdm/platform/logging';

/** What the owning service reports: the newest published version of each matching stream. */
export interface PublishedVersions {
  streams: Record<string, number>;
}

/** Streams owned by the service at `ownerUrl`. */
export interface OwnerQuery {
  ownerUrl: string;
  queries: StreamQuery[];
}

export interface ReadYourWritesOptions {
  db: Sql;
  /** Signs the question to the owner, which answers only the services it names. */
  signer: CallSigner;
  logger: Logger;
  /** How long a command may wait for the consumer to catch up before it is refused. */
  timeoutMs?: number;
  pollMs?: number;
  /** Told how long each step took: asking the owners (each call to them), and waiting for this service's inbox beyond its first look (`/metrics`). */
  observe?: (step: 'ask' | 'apply', seconds: number) => void;
}

/**
 * Read-your-writes across services (API.md: a command that returned 2xx is visible to every later
 * command). Before a command that depends on another service's state, ask the owner which versions
 * of the streams it has committed for the outbox, and wait, bounded, until this service's inbox has
 * applied them. The owner counts an event from its commit, so one still in its outbox or on its way
 * through the broker is waited for too. The services stay separate: they share no tables and learn
 * state only from events.
 */
export class ReadYourWrites {
  /** How long a caller waits for its inbox before it is refused with `lagging`. */
  readonly timeoutMs: number;
  /** How often it looks again meanwhile. */
  readonly pollMs: number;
  private readonly observe: (step: 'ask' | 'apply', seconds: number) => void;

  constructor(private readonly options: ReadYourWritesOptions) {
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.pollMs = options.pollMs ?? 10;
    this.observe = options.observe ?? (() => undefined);
  }

  /** Waits until every stream of `tenantId` whose id starts with one of `prefixes` is caught up with `ownerUrl`. */
  catchUp(ownerUrl: string, tenantId: string, prefixes: string[]): Promise<void> {
    return this.catchUpAll(tenantId, [{ ownerUrl, prefixes }]);
  }

  /**
   * The same with several owners at once: asked in parallel, then one wait for all their streams.
   * Streams known by id go in `streams`: an owner takes a few prefixes per query but thousands of ids.
   */
  async catchUpAll(tenantId: string, owners: ({ ownerUrl: string } & Omit<StreamQuery, 'tenantId'>)[]): Promise<void> {
    await this.applied(await this.published(owners.map(({ ownerUrl, ...query }) => ({ ownerUrl, queries: [{ tenantId, ...query }] }))));
  }

  /** The owners' published versions, one call per owner, in parallel. */
  async published(owners: OwnerQuery[]): Promise<Record<string, number>> {
    const asked = owners.filter((o) => o.queries.some((q) => (q.prefixes?.length ?? 0) + (q.streams?.length ?? 0) > 0));
    if (asked.length === 0) return {};
    const started = performance.now();
    try {
      return Object.assign({}, ...(await Promise.all(asked.map((o) => this.ask(o)))));
    } finally {
      this.observe('ask', (performance.now() - started) / 1000);
    }
  }

  /** Waits, bounded, until this service's inbox has applied every stream at least to the version given. */
  async applied(wanted: Record<string, number>): Promise<void> {
    const ids = Object.keys(wanted);
    if (ids.length === 0) return;
    await this.untilApplied(wanted, async () => {
      const rows = await this.options.db.query<{ stream_id: string; version: string }>(
        'select stream_id, version::text from consumed_streams where stream_id = any($1::text[])',
        [ids],
      );
      return { applied: Object.fromEntries(rows.map((r) => [r.stream_id, Number(r.version)])), seen: undefined };
    });
  }

  /**
   * Looks (`look`: the versions this service's inbox has applied, and whatever else the caller reads
   * in the same statement) until every stream is applied at least to the version wanted, every
   * `pollMs`, bounded by `timeoutMs` (then `lagging`); answers what the last look saw. The wait beyond
   * the first look is recorded ('apply'; 0 when caught up at once), a wait that timed out too.
   */
  async untilApplied<T>(wanted: Record<string, number>, look: () => Promise<{ applied: Record<string, number>; seen: T }>): Promise<T> {
    const ids = Object.keys(wanted);
    const deadline = Date.now() + this.timeoutMs;
    let firstLook: number | undefined;
    const waited = () => this.observe('apply', firstLook === undefined ? 0 : (performance.now() - firstLook) / 1000);
    for (;;) {
      const { applied, seen } = await look();
      const behind = ids.filter((id) => (applied[id] ?? 0) < wanted[id]);
      if (behind.length === 0) {
        if (ids.length > 0) waited();
        return seen;
      }
      firstLook ??= performance.now();
      if (Date.now() > deadline) {
        waited();
        throw this.lagging(behind);
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  /** The refusal when the inbox has not caught up in time (the streams it still waits for, a few of them). */
  private lagging(behind: string[]): DomainError {
    return new DomainError('DEPENDENCY_LAGGING', 'the events this command depends on have not arrived yet; retry', {
      behind: behind.slice(0, 20),
    });
  }

  private async ask({ ownerUrl, queries }: OwnerQuery): Promise<Record<string, number>> {
    // The owner's instances, when it has several (callService picks one).
    const url = `${ownerUrl.replace(/\/$/, '')}/internal/published-versions`;
    const unavailable = (cause: string) => new DomainError('SERVICE_UNAVAILABLE', `cannot confirm the latest state with ${ownerUrl}`, { cause });
    const res = await callService(url, { method: 'POST', body: { queries }, timeoutMs: 5000, signer: this.options.signer }).catch((err: Error) => {
      throw unavailable(err.message);
    });
    if (res.ok) return (res.body as PublishedVersions).streams;
    // An owner that refuses the question (4xx) was asked wrongly: a bug to see (500), not an outage
    // for the client to retry (enrollment once asked with more prefixes than an owner takes, and its
    // 503s were retried by every client instead of being noticed).
    if (res.status < 500) throw new Error(`${url} refused the question: ${res.status} ${JSON.stringify(res.body)}`);
    throw unavailable(`${res.status}`);
  }
}

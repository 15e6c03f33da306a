import { Client } from 'pg';
import { quoteIdent } from '@mdm/platform/database';
import { Producer } from '@mdm/platform/kafka';
import { Logger } from '@mdm/platform/logging';

export interface OutboxRelayOptions {
  /** Raw pg client settings (a session of its own: it holds the leader lock and LISTENs). */
  clientConfig: ConstructorParameters<typeof Client>[0];
  schema: string;
  channel: string;
  producer: Producer;
  logger: Logger;
  batchSize?: number;
  /** Fallback poll when no notification arrives (a missed NOTIFY, or not the leader yet). */
  pollIntervalMs?: number;
  onPublished?: (count: number) => void;
  /** Published rows are deleted after this long (they are in Kafka and in the event store). */
  retentionMs?: number;
}

const PRUNE_EVERY_MS = 10 * 60_000;

interface OutboxRow {
  pos: string;
  topic: string;
  message_key: string;
  /** The envelope's JSON, sent as it is stored. */
  payload: string;
  headers: Record<string, string>;
}

function toTopicMessages(rows: OutboxRow[]) {
  const byTopic = new Map<string, { key: string; value: string; headers: Record<string, string> }[]>();
  for (const row of rows) {
    const messages = byTopic.get(row.topic) ?? [];
    messages.push({ key: row.message_key, value: row.payload, headers: row.headers });
    byTopic.set(row.topic, messages);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * Publishes outbox rows to Kafka in commit-independent position order and marks them published.
 * One relay per service is the leader (a session advisory lock); the others wait to take over.
 * A crash between send and mark publishes the rows again: consumers' inboxes absorb the duplicates.
 */
export class OutboxRelay {
  private client: Client | undefined;
  private running = false;
  private leader = false;
  private wake: (() => void) | undefined;
  /** Set by a NOTIFY that arrives while a batch is in flight, so the next sleep is skipped. */
  private notified = false;
  private loop: Promise<void> | undefined;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private lastPrune = 0;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  /** Rows not yet published (for /metrics and tests). */
  async pending(): Promise<number> {
    const client = this.client;
    if (!client) return 0;
    const { rows } = await client.query<{ n: string }>('select count(*)::text n from outbox where published_at is null');
    return Number(rows[0].n);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.session();
      } catch (err) {
        this.options.logger.error({ err }, 'outbox relay session failed; reconnecting');
      } finally {
        this.leader = false;
        await this.client?.end().catch(() => undefined);
        this.client = undefined;
      }
      if (this.running) await this.sleep(this.pollIntervalMs);
    }
  }

  private async session(): Promise<void> {
    const client = new Client(this.options.clientConfig);
    this.client = client;
    client.on('error', (err) => this.options.logger.warn({ err }, 'outbox relay connection error'));
    client.on('notification', () => {
      this.notified = true;
      this.wake?.();
    });
    await client.connect();
    await client.query(`listen ${quoteIdent(this.options.channel)}`);
    while (this.running) {
      if (!this.leader) {
        const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtext($1)) ok', [
          `outbox:${this.options.schema}`,
        ]);
        this.leader = rows[0].ok;
        if (this.leader) this.options.logger.info('outbox relay is the leader');
      }
      this.notified = false;
      if (this.leader) {
        await this.drain(client);
        await this.prune(client);
      }
      await this.sleep(this.pollIntervalMs);
    }
  }

  /**
   * Publishes every pending row. While Kafka takes one batch, the previous one is marked and the next
   * read, so the database and the broker work at the same time; a row is still marked only after
   * its own send succeeded. Each read takes the oldest pending rows (not those after a cursor), so a
   * transaction that commits late is published before anything its stream appended later.
   */
  private async drain(client: Client): Promise<void> {
    let batch = await this.fetch(client, []);
    let sent: OutboxRow[] = [];
    while (batch.length > 0) {
      const inFlight = batch;
      const sending = this.options.producer.sendBatch({ acks: -1, topicMessages: toTopicMessages(inFlight) });
      const following = (async () => {
        await this.mark(client, sent);
        sent = [];
        return inFlight.length === this.batchSize && this.running ? this.fetch(client, inFlight) : [];
      })();
      const [sendResult, next] = await Promise.allSettled([sending, following]);
      if (sendResult.status === 'rejected') throw sendResult.reason;
      if (next.status === 'rejected') throw next.reason;
      sent = inFlight;
      batch = next.value;
    }
    await this.mark(client, sent);
  }

  private async prune(client: Client): Promise<void> {
    if (Date.now() - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = Date.now();
    const retention = this.options.retentionMs ?? 7 * 24 * 3600_000;
    await client.query(`delete from outbox where published_at < now() - make_interval(secs => $1)`, [retention / 1000]);
  }

  private async fetch(client: Client, inFlight: OutboxRow[]): Promise<OutboxRow[]> {
    // Positions travel as text (bigint), under another name: ORDER BY a bare name would sort the text.
    const { rows } = await client.query<OutboxRow>(
      `select o.position::text as pos, o.topic, o.message_key, o.payload::text as payload, o.headers
         from outbox o
        where o.published_at is null and o.position <> all($2::bigint[])
        order by o.position limit $1`,
      [this.batchSize, inFlight.map((r) => r.pos)],
    );
    return rows;
  }

  private async mark(client: Client, rows: OutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    await client.query('update outbox set published_at = now() where position = any($1::bigint[])', [rows.map((r) => r.pos)]);
    this.options.onPublished?.(rows.length);
  }

  private sleep(ms: number): Promise<void> {
    if (this.notified || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}


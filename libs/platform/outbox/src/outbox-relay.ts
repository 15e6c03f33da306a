import { Client } from 'pg';
import { quoteIdent } from '@mdm/platform/database';
import { Producer } from '@mdm/platform/kafka';
import { Logger } from '@mdm/platform/logging';
import { backoffDelay } from '@mdm/platform/retry';

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
/**
 * The longest pause before a topic that could not be written is tried again: after a broker
 * outage, held topics go out again within seconds of its return.
 */
const HOLD_MAX_MS = 5_000;

interface OutboxRow {
  pos: string;
  topic: string;
  message_key: string;
  /** The envelope's JSON, sent as it is stored. */
  payload: string;
  headers: Record<string, string>;
}

function byTopic(rows: OutboxRow[]): Map<string, OutboxRow[]> {
  const topics = new Map<string, OutboxRow[]>();
  for (const row of rows) {
    const same = topics.get(row.topic) ?? [];
    same.push(row);
    topics.set(row.topic, same);
  }
  return topics;
}

/**
 * The bytes of one send, under the broker's message.max.bytes (1 MiB by default), which bounds the
 * record batch of a partition: rows of one stream share a partition, and a fan-out's events are large.
 */
const MAX_SEND_BYTES = 900 * 1024;

/** The rows in order, cut into runs of at most MAX_SEND_BYTES (a larger row goes alone). */
function bySize(rows: OutboxRow[]): OutboxRow[][] {
  const runs: OutboxRow[][] = [];
  let run: OutboxRow[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = Buffer.byteLength(row.payload) + Buffer.byteLength(row.message_key) + 64;
    if (run.length > 0 && bytes + size > MAX_SEND_BYTES) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(row);
    bytes += size;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

const ok = (rows: OutboxRow[]) => ({ rows, error: undefined });
const ko = (error: unknown) => ({ rows: [] as OutboxRow[], error });

/** A topic whose last send failed: its rows wait until `until`, the other topics' rows go on. */
interface Hold {
  failures: number;
  until: number;
}

/**
 * Publishes outbox rows to Kafka in commit-independent position order and marks them published.
 * One relay per service is the leader (a session advisory lock); the others wait to take over.
 * A crash between send and mark publishes the rows again: consumers' inboxes absorb the duplicates.
 * Topics are independent: one that cannot be written (missing, deleted, refused) holds back its own
 * rows only, which are retried after a growing pause, while every other topic keeps flowing.
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
  private readonly held = new Map<string, Hold>();
  /** The retry of held topics, which runs beside the drain so that a slow failure delays no one. */
  private probing: Promise<void> | undefined;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Topics whose rows wait because their last send failed (for /metrics and tests). */
  get heldTopics(): string[] {
    return [...this.held.keys()];
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
        await this.probing;
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
        this.retryHeld(client);
        await this.prune(client);
      }
      await this.sleep(this.pollIntervalMs);
    }
  }

  /**
   * Publishes every pending row of the topics not held. While Kafka takes one batch, the previous
   * one is marked and the next read, so the database and the broker work at the same time; a row is
   * still marked only after its own send succeeded. Each read takes the oldest pending rows (not
   * those after a cursor), so a transaction that commits late is published before anything its
   * stream appended later. A topic whose send fails is held: none of its later rows go out before
   * the failed ones, and the rest of the batch, and of the outbox, is published all the same.
   */
  private async drain(client: Client): Promise<void> {
    const skip = new Set(this.held.keys());
    let fetched = await this.fetch(client, [], skip);
    let batch = fetched;
    let sent: OutboxRow[] = [];
    while (batch.length > 0) {
      const inFlight = batch;
      const more = fetched.length === this.batchSize;
      const sending = this.send(inFlight);
      const following = (async () => {
        await this.mark(client, sent);
        sent = [];
        return more && this.running ? this.fetch(client, inFlight, skip) : [];
      })();
      // Both settle before anything is decided: a failed read must not leave a send behind it.
      const [{ delivered, failed }, next] = await Promise.all([sending, following.then(ok, ko)]);
      if (next.error) throw next.error;
      for (const [topic, err] of failed) {
        this.hold(topic, err);
        skip.add(topic);
      }
      sent = delivered;
      fetched = next.rows;
      batch = fetched.filter((r) => !skip.has(r.topic));
      if (batch.length === 0 && fetched.length === this.batchSize && this.running) {
        // Everything read belonged to a topic held meanwhile: read past it.
        await this.mark(client, sent);
        sent = [];
        batch = fetched = await this.fetch(client, [], skip);
      }
    }
    await this.mark(client, sent);
  }

  /**
   * Sends each topic's rows on its own, in runs the broker accepts, one after the other (a run that
   * fails leaves the later ones of its topic unsent); never throws: what failed is returned by topic.
   */
  private async send(rows: OutboxRow[]): Promise<{ delivered: OutboxRow[]; failed: Map<string, unknown> }> {
    const delivered: OutboxRow[] = [];
    const failed = new Map<string, unknown>();
    await Promise.all(
      [...byTopic(rows)].map(async ([topic, same]) => {
        try {
          for (const run of bySize(same)) {
            await this.options.producer.sendBatch({
              acks: -1,
              topicMessages: [{ topic, messages: run.map((r) => ({ key: r.message_key, value: r.payload, headers: r.headers })) }],
            });
            delivered.push(...run);
          }
        } catch (err) {
          failed.set(topic, err);
        }
      }),
    );
    return { delivered, failed };
  }

  private hold(topic: string, err: unknown): void {
    const failures = (this.held.get(topic)?.failures ?? 0) + 1;
    const pauseMs = backoffDelay({ initialMs: this.pollIntervalMs, maxMs: HOLD_MAX_MS }, failures);
    this.held.set(topic, { failures, until: Date.now() + pauseMs });
    this.options.logger.error(
      { err, topic, failures, retryInMs: pauseMs },
      'outbox rows cannot be published to this topic; they wait, the other topics go on',
    );
  }

  /**
   * Tries the held topics whose pause is over, oldest rows first, beside the drain. A topic that
   * takes its rows again is released, and the next drain goes on with the rest of them in order.
   */
  private retryHeld(client: Client): void {
    const now = Date.now();
    const due = [...this.held].filter(([, h]) => h.until <= now).map(([topic]) => topic);
    if (this.probing || due.length === 0) return;
    this.probing = (async () => {
      for (const topic of due) {
        if (!this.running) return;
        try {
          const rows = await this.fetchTopic(client, topic);
          const { failed } = await this.send(rows);
          if (failed.has(topic)) {
            this.hold(topic, failed.get(topic));
            continue;
          }
          await this.mark(client, rows);
          this.held.delete(topic);
          this.options.logger.info({ topic }, 'outbox topic can be published to again');
          this.notified = true;
          this.wake?.();
        } catch (err) {
          this.hold(topic, err);
        }
      }
    })().finally(() => {
      this.probing = undefined;
    });
  }

  private async prune(client: Client): Promise<void> {
    if (Date.now() - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = Date.now();
    const retention = this.options.retentionMs ?? 7 * 24 * 3600_000;
    await client.query(`delete from outbox where published_at < now() - make_interval(secs => $1)`, [retention / 1000]);
  }

  private async fetch(client: Client, inFlight: OutboxRow[], skip: Set<string>): Promise<OutboxRow[]> {
    // Positions travel as text (bigint), under another name: ORDER BY a bare name would sort the text.
    const { rows } = await client.query<OutboxRow>(
      `select o.position::text as pos, o.topic, o.message_key, o.payload::text as payload, o.headers
         from outbox o
        where o.published_at is null and o.position <> all($2::bigint[]) and o.topic <> all($3::text[])
        order by o.position limit $1`,
      [this.batchSize, inFlight.map((r) => r.pos), [...skip]],
    );
    return rows;
  }

  /** The oldest pending rows of one topic. */
  private async fetchTopic(client: Client, topic: string): Promise<OutboxRow[]> {
    const { rows } = await client.query<OutboxRow>(
      `select o.position::text as pos, o.topic, o.message_key, o.payload::text as payload, o.headers
         from outbox o
        where o.published_at is null and o.topic = $2
        order by o.position limit $1`,
      [this.batchSize, topic],
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


import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DomainError, EventRegistry, deadLetterTopic } from '@mdm/contracts/core';
import { RebuildStatus } from '@mdm/contracts/projection';
import { Clock } from '@mdm/platform/clock';
import { Database, pgErrorCode } from '@mdm/platform/database';
import { CLOCK, ConsumerHandle, Consumption, KAFKA, LOGGER, SERVICE_CONFIG } from '@mdm/platform/http';
import { InboxConsumer } from '@mdm/platform/inbox';
import { Kafka, endOffsets, ensureTopics, groupReached } from '@mdm/platform/kafka';
import { Logger } from '@mdm/platform/logging';
import { Freshness } from './freshness';
import { ProjectionConfig } from './projection.definition';
import { Projector } from './projector';
import { ViewTables } from './view-tables';

type Rebuild = NonNullable<RebuildStatus['rebuild']> & { targets: Record<string, string> };

interface Generation {
  tables: ViewTables;
  consumer: InboxConsumer;
}

/** How often a running rebuild compares its consumer group's offsets with the targets. */
const REBUILD_CHECK_MS = 250;
/** How often every instance reads which generation is live and whether a rebuild runs (another instance's). */
const FOLLOW_MS = 1_000;
/** How long the switching instance waits for the others to leave the old generation before dropping it. */
const LEAVE_WAIT_MS = 30_000;
const UNDEFINED_TABLE = '42P01';
/**
 * Partitions' batches applied at once, each in its own transaction: one's statements run in Postgres
 * while another is decoded and folded here. The projector locks rows in one order, so they cannot deadlock.
 */
const PARTITIONS_IN_FLIGHT = 4;
/**
 * Up to 4 MB per partition and fetch: replaying history (a rebuild, a catch-up) then folds several
 * events of a device per row write.
 */
const FETCH = { maxBytesPerPartition: 4 * 1024 * 1024, maxBytes: 32 * 1024 * 1024 };
/**
 * The live generation's broker holds a fetch up to 100 ms for more events: under load a transaction
 * then applies a tenth of a second of events instead of the few that came during the last one. No
 * command waits on the views, and 100 ms is a tenth of R29's lag target. Not for a rebuild's replay,
 * which it slowed (some of a replay's fetches must carry less than minBytes). Figures: README,
 * "Performance notes".
 */
const LIVE_FETCH = { ...FETCH, minBytes: 1024 * 1024, maxWaitTimeInMs: 100 };

/**
 * R30: the views live in generations of tables, each filled by a consumer group of its own. A
 * rebuild creates generation n+1 and replays every event topic into it from the beginning while
 * generation n goes on serving; once the new group has reached the offsets the topics had when the
 * rebuild started, the views switch to it (one row update) and generation n is dropped. The new
 * group simply goes on as the live consumer. A rebuild interrupted by a restart resumes.
 *
 * Several instances: projection_state is the one truth. One instance replays (the one that claimed
 * the rebuild; another takes over when the replay's group has no member left); every instance reads
 * the state each second and follows a switch by joining the new generation's group as its live
 * consumer. The switching instance drops the old generation once every instance has left its group.
 */
@Injectable()
export class ViewGenerations implements OnApplicationBootstrap, OnApplicationShutdown {
  private live: Generation | undefined;
  private next: Generation | undefined;
  private rebuild: Rebuild | null = null;
  private watcher: NodeJS.Timeout | undefined;
  /** The rebuild check under way, if one is. */
  private checking: Promise<void> | undefined;
  private follower: NodeJS.Timeout | undefined;
  /** The follow step under way, if one is. */
  private following: Promise<void> | undefined;
  /** This instance is starting a rebuild (its replay is not up yet). */
  private claiming = false;

  constructor(
    private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(KAFKA) private readonly kafka: Kafka,
    private readonly registry: EventRegistry,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: ProjectionConfig,
    private readonly consumption: Consumption,
    private readonly handle: ConsumerHandle,
    private readonly freshness: Freshness,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const [state] = await this.db.query<{ live_generation: number; rebuild: Rebuild | null }>(
      'select live_generation, rebuild from projection_state',
    );
    this.rebuild = state.rebuild;
    this.live = await this.startGeneration(new ViewTables(state.live_generation), true);
    if (this.rebuild?.status === 'running') await this.resumeReplay();
    this.follow();
  }

  private async resumeReplay(): Promise<void> {
    this.logger.info({ generation: this.rebuild!.generation }, 'resuming the view rebuild');
    this.next = await this.startGeneration(new ViewTables(this.rebuild!.generation), false);
    this.watch();
  }

  /** Every FOLLOW_MS: adopts what another instance did (a rebuild started, a switch, a failure). */
  private follow(): void {
    this.follower = setTimeout(() => {
      this.following = this.followState()
        .catch((err) => this.logger.warn({ err }, 'could not read the projection state; trying again'))
        .finally(() => {
          this.following = undefined;
          if (this.follower) this.follow();
        });
    }, FOLLOW_MS);
  }

  private async followState(): Promise<void> {
    if (this.checking || this.claiming) return;
    const [state] = await this.db.query<{ live_generation: number; rebuild: Rebuild | null }>(
      'select live_generation, rebuild from projection_state',
    );
    if (state.live_generation !== this.live!.tables.generation) {
      // Another instance switched: its new generation's group becomes this one's live consumer too.
      const next = this.next?.tables.generation === state.live_generation ? this.next : await this.startGeneration(new ViewTables(state.live_generation), true);
      const old = this.live!;
      this.adopt(next);
      this.rebuild = state.rebuild;
      this.logger.info({ generation: state.live_generation }, 'views follow the switch to the rebuilt generation');
      await old.consumer.stop();
      return;
    }
    const replaying = this.next !== undefined;
    // The replaying instance keeps its own count of events applied.
    if (!replaying || state.rebuild?.status !== 'running') this.rebuild = state.rebuild;
    if (state.rebuild?.status === 'running' && !replaying && !(await this.groupHasMembers(this.groupOf(state.rebuild.generation)))) {
      // The instance that replayed is gone: this one carries the replay on.
      await this.resumeReplay();
    } else if (state.rebuild?.status !== 'running' && replaying) {
      // Another instance ended it (failed): the replay stops here too.
      clearTimeout(this.watcher);
      await this.next!.consumer.stop();
      this.next = undefined;
    }
  }

  private adopt(next: Generation): void {
    this.live = next;
    this.next = undefined;
    this.handle.consumer = next.consumer;
    this.freshness.follow(next.consumer);
  }

  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.follower);
    this.follower = undefined;
    await this.following;
    clearTimeout(this.watcher);
    // A switch under way finishes first (its clean-up needs the database, closed after this hook):
    // cut short, a rebuild that had switched was marked failed.
    await this.checking;
    await this.next?.consumer.stop();
    await this.live?.consumer.stop();
  }

  /**
   * Runs a query on the live generation's tables. A query that began just before a switch and finds
   * its tables dropped runs again on the new ones.
   */
  async read<T>(query: (tables: ViewTables) => Promise<T>): Promise<T> {
    const tables = this.live!.tables;
    try {
      return await query(tables);
    } catch (err) {
      if (pgErrorCode(err) !== UNDEFINED_TABLE) throw err;
      // Another instance switched and dropped these tables: follow it now rather than at the next tick.
      if (this.live!.tables === tables) await (this.following ?? this.followState());
      if (this.live!.tables === tables) throw err;
      return query(this.live!.tables);
    }
  }

  status(): RebuildStatus {
    const liveGeneration = this.live!.tables.generation;
    if (!this.rebuild) return { liveGeneration, rebuild: null };
    const { targets: _targets, ...rebuild } = this.rebuild;
    return { liveGeneration, rebuild };
  }

  async startRebuild(): Promise<RebuildStatus> {
    this.claiming = true;
    try {
      await this.following;
      return await this.claimRebuild();
    } finally {
      this.claiming = false;
    }
  }

  private async claimRebuild(): Promise<RebuildStatus> {
    const running = () => new DomainError('REBUILD_RUNNING', `generation ${this.rebuild!.generation} is being rebuilt`, this.status());
    if (this.rebuild?.status === 'running') throw running();
    const tables = new ViewTables(this.live!.tables.generation + 1);
    const groupId = this.groupOf(tables.generation);
    const rebuild: Rebuild = {
      generation: tables.generation,
      status: 'running',
      startedAt: this.clock.now().toISOString(),
      finishedAt: null,
      eventsApplied: 0,
      error: null,
      targets: await endOffsets(this.kafka, [...this.consumption.topics]),
    };
    // The claim: one instance's rebuild at a time, of the generation after the live one.
    const claimed = await this.db.transaction(async (sql) => {
      const [state] = (await sql.query('select live_generation, rebuild from projection_state for update')) as { live_generation: number; rebuild: Rebuild | null }[];
      if (state.rebuild?.status === 'running' || state.live_generation !== this.live!.tables.generation) {
        this.rebuild = state.rebuild;
        return false;
      }
      for (const statement of [...tables.drop(), ...tables.create()]) await sql.query(statement);
      await sql.query('update projection_state set rebuild = $1', [JSON.stringify(rebuild)]);
      return true;
    });
    if (!claimed) throw running();
    this.rebuild = rebuild;
    // Leftovers of an earlier attempt at this generation go: the replay starts from nothing.
    await this.dropGroup(groupId);
    this.logger.info({ generation: tables.generation, targets: this.rebuild.targets }, 'view rebuild started');
    this.next = await this.startGeneration(tables, false);
    this.watch();
    return this.status();
  }

  private groupOf(generation: number): string {
    // Generation 1 keeps the configured group name, so a fresh install looks like any other service.
    const base = this.consumption.groupId;
    return generation === 1 ? base : `${base}.g${generation}`;
  }

  private async startGeneration(tables: ViewTables, live: boolean): Promise<Generation> {
    const groupId = this.groupOf(tables.generation);
    await ensureTopics(this.kafka, [deadLetterTopic(groupId)]);
    const projector = new Projector(tables);
    // One connection stays free for the views' queries.
    const inFlight = Math.max(1, Math.min(PARTITIONS_IN_FLIGHT, this.config.DB_POOL_SIZE - 1));
    const consumer = new InboxConsumer({
      kafka: this.kafka,
      db: this.db,
      groupId,
      topics: [...this.consumption.topics],
      registry: this.registry,
      logger: this.logger.child({ component: 'inbox', groupId }),
      mode: 'batch',
      // The fold is idempotent by its version guards (R27: a duplicate changes nothing), so no inbox.
      dedup: 'handler',
      partitionsConsumedConcurrently: inFlight,
      transactionsInFlight: inFlight,
      fetch: live ? LIVE_FETCH : FETCH,
      handleBatch: async (items, sql) => {
        const isLive = this.live?.consumer === consumer;
        if (isLive) this.freshness.started(items);
        await projector.apply(
          sql,
          items.map((i) => i.event),
        );
        if (isLive) this.freshness.applied(items);
        else if (this.rebuild && this.next?.consumer === consumer) this.rebuild.eventsApplied += items.length;
      },
    });
    await consumer.start();
    if (live) {
      this.handle.consumer = consumer;
      this.freshness.follow(consumer);
    }
    return { tables, consumer };
  }

  private watch(): void {
    this.watcher = setTimeout(() => {
      this.checking = this.checkRebuild()
        .catch((err) => this.fail(err))
        .finally(() => (this.checking = undefined));
    }, REBUILD_CHECK_MS);
  }

  private async checkRebuild(): Promise<void> {
    if (!this.next || this.rebuild?.status !== 'running') return;
    if (!(await groupReached(this.kafka, this.groupOf(this.next.tables.generation), this.rebuild.targets))) return this.watch();
    await this.switchOver();
  }

  private async switchOver(): Promise<void> {
    const old = this.live!;
    const next = this.next!;
    const switched: Rebuild = { ...this.rebuild!, status: 'switched', finishedAt: this.clock.now().toISOString() };
    // Only one instance switches (two may have replayed together after a take-over).
    const rows = await this.db.query(
      `update projection_state set live_generation = $1, rebuild = $2 where live_generation = $3 and rebuild->>'status' = 'running' returning 1`,
      [next.tables.generation, JSON.stringify(switched), old.tables.generation],
    );
    if (rows.length === 0) return;
    this.rebuild = switched;
    this.adopt(next);
    this.logger.info({ generation: next.tables.generation, events: this.rebuild.eventsApplied }, 'views switched to the rebuilt generation');
    await old.consumer.stop();
    await this.othersLeft(this.groupOf(old.tables.generation));
    await this.db.transaction(async (sql) => {
      for (const statement of old.tables.drop()) await sql.query(statement);
    });
    await this.dropGroup(this.groupOf(old.tables.generation));
  }

  private async fail(err: unknown): Promise<void> {
    this.logger.error({ err }, 'view rebuild failed');
    this.rebuild = { ...this.rebuild!, status: 'failed', finishedAt: this.clock.now().toISOString(), error: String(err) };
    await this.next?.consumer.stop();
    this.next = undefined;
    await this.db.query('update projection_state set rebuild = $1', [JSON.stringify(this.rebuild)]).catch(() => undefined);
  }

  /** Waits (bounded) until no other instance consumes the old generation: they have followed the switch. */
  private async othersLeft(groupId: string): Promise<void> {
    const deadline = Date.now() + LEAVE_WAIT_MS;
    while ((await this.groupHasMembers(groupId)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  }

  private async groupHasMembers(groupId: string): Promise<boolean> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const [group] = (await admin.describeGroups([groupId])).groups;
      return (group?.members.length ?? 0) > 0;
    } finally {
      await admin.disconnect();
    }
  }


  /** Forgets a generation's consumer group: its Kafka offsets and its inbox rows. */
  private async dropGroup(groupId: string): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.deleteGroups([groupId]).catch(() => undefined);
    } finally {
      await admin.disconnect();
    }
    await this.db.query('delete from inbox where consumer = $1', [groupId]);
  }
}

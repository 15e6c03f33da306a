import { createLogger } from '@mdm/platform/logging';

/** Where the bench runs and how big it is; every knob can be overridden from the environment. */
export const benchConfig = {
  databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/mdm_bench',
  brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  /** Wall time of each time-boxed Postgres measurement (after a short warm-up). */
  /** The log level of the services a multi-process scenario starts (`info` logs each call with its duration, in the stack's log directory). */
  serviceLogLevel: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'warn',
  durationMs: Number(process.env.BENCH_DURATION_MS ?? 4000),
  warmupMs: Number(process.env.BENCH_WARMUP_MS ?? 500),
  /** Messages produced in (c) per batch size, rows drained in (d), events consumed in (e). */
  produceMessages: Number(process.env.BENCH_PRODUCE_MESSAGES ?? 100_000),
  outboxRows: Number(process.env.BENCH_OUTBOX_ROWS ?? 100_000),
  /** Rows per relay batch-size trial (the sweep that picks the batch size for the full drain). */
  sweepRows: Number(process.env.BENCH_SWEEP_ROWS ?? 20_000),
  relayBatchSizes: (process.env.BENCH_RELAY_BATCH_SIZES ?? '500,1000,2000').split(',').map(Number),
  inboxEvents: Number(process.env.BENCH_INBOX_EVENTS ?? 100_000),
  /**
   * (f): concurrent HTTP clients, enrollments measured, licensed users, time cap of the measured run;
   * before it, the same load for enrollWarmupMs (every service's hot code compiled and optimised).
   */
  enrollClients: Number(process.env.BENCH_ENROLL_CLIENTS ?? 32),
  enrollCount: Number(process.env.BENCH_ENROLL_COUNT ?? 4000),
  enrollWarmupMs: Number(process.env.BENCH_ENROLL_WARMUP_MS ?? 10_000),
  enrollUsers: Number(process.env.BENCH_ENROLL_USERS ?? 300),
  enrollMaxMs: Number(process.env.BENCH_ENROLL_MAX_MS ?? 60_000),
  /** (j): device-sync events produced per second and for how long, in slices of sliceMs; the fleet enrolled first. */
  lagRate: Number(process.env.BENCH_LAG_RATE ?? 5000),
  lagDurationMs: Number(process.env.BENCH_LAG_DURATION_MS ?? 60_000),
  lagSliceMs: Number(process.env.BENCH_LAG_SLICE_MS ?? 20),
  lagTenants: Number(process.env.BENCH_LAG_TENANTS ?? 5),
  lagDevices: Number(process.env.BENCH_LAG_DEVICES ?? 4000),
  /** (k): events on the topics before the rebuild, over how many devices and tenants, per sendBatch; time cap of the rebuild. */
  rebuildEvents: Number(process.env.BENCH_REBUILD_EVENTS ?? 1_000_000),
  rebuildDevices: Number(process.env.BENCH_REBUILD_DEVICES ?? 50_000),
  rebuildTenants: Number(process.env.BENCH_REBUILD_TENANTS ?? 20),
  rebuildChunk: Number(process.env.BENCH_REBUILD_CHUNK ?? 5000),
  rebuildMaxMs: Number(process.env.BENCH_REBUILD_MAX_MS ?? 900_000),
  /** (j), (k): the projection service's DB_POOL_SIZE. */
  projectionPoolSize: Number(process.env.BENCH_PROJECTION_POOL_SIZE ?? 10),
  /** Partitions of the bench topics (the platform's event topics have 6 to 12). */
  partitions: 6,
  /** (o): how long a started service is left idle before its RSS is read. */
  idleMs: Number(process.env.BENCH_IDLE_MS ?? 5000),
  /** (f), (i): the services as processes of their own (default), or all in the bench's process. */
  inProcess: process.env.BENCH_STACK === 'in-process',
  /** Scenarios to run (a..p, i2, m2, n, and q, the console in a browser, only when named); all but q by default. */
  only: (process.env.BENCH_ONLY ?? 'a,b,c,d,e,f,g,h,i,i2,l,p,n,j,k,o,m,m2').split(','),
};

/** Quiet: warnings and errors only. */
export const logger = createLogger('bench', process.env.LOG_LEVEL ?? 'warn');

/**
 * kafkajs's own log, errors only: createKafka's bounded retries make every idempotent producer warn
 * "Limiting retries for the idempotent producer may invalidate EoS guarantees" at connect.
 */
export const kafkaLogger = createLogger('bench-kafkajs', process.env.KAFKA_LOG_LEVEL ?? 'error');

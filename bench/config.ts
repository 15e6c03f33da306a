import { createLogger } from '@mdm/platform/logging';

/** Where the bench runs and how big it is; every knob can be overridden from the environment. */
export const benchConfig = {
  databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/mdm_bench',
  brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  /** Wall time of each time-boxed Postgres measurement (after a short warm-up). */
  durationMs: Number(process.env.BENCH_DURATION_MS ?? 4000),
  warmupMs: Number(process.env.BENCH_WARMUP_MS ?? 500),
  /** Messages produced in (c) per batch size, rows drained in (d), events consumed in (e). */
  produceMessages: Number(process.env.BENCH_PRODUCE_MESSAGES ?? 100_000),
  outboxRows: Number(process.env.BENCH_OUTBOX_ROWS ?? 100_000),
  /** Rows per relay batch-size trial (the sweep that picks the batch size for the full drain). */
  sweepRows: Number(process.env.BENCH_SWEEP_ROWS ?? 20_000),
  relayBatchSizes: (process.env.BENCH_RELAY_BATCH_SIZES ?? '500,1000,2000').split(',').map(Number),
  inboxEvents: Number(process.env.BENCH_INBOX_EVENTS ?? 100_000),
  /** (f): concurrent HTTP clients, enrollments measured (after a warm-up), licensed users, time cap of the measured run. */
  enrollClients: Number(process.env.BENCH_ENROLL_CLIENTS ?? 32),
  enrollCount: Number(process.env.BENCH_ENROLL_COUNT ?? 4000),
  enrollWarmup: Number(process.env.BENCH_ENROLL_WARMUP ?? 200),
  enrollUsers: Number(process.env.BENCH_ENROLL_USERS ?? 300),
  enrollMaxMs: Number(process.env.BENCH_ENROLL_MAX_MS ?? 60_000),
  /** Partitions of the bench topics (the platform's event topics have 6 to 12). */
  partitions: 6,
  /** Scenarios to run (a..i); all by default. */
  only: (process.env.BENCH_ONLY ?? 'a,b,c,d,e,f,g,h,i').split(','),
};

/** Quiet: warnings and errors only. */
export const logger = createLogger('bench', process.env.LOG_LEVEL ?? 'warn');

/**
 * kafkajs's own log, errors only: createKafka's bounded retries make every idempotent producer warn
 * "Limiting retries for the idempotent producer may invalidate EoS guarantees" at connect.
 */
export const kafkaLogger = createLogger('bench-kafkajs', process.env.KAFKA_LOG_LEVEL ?? 'error');

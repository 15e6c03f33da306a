import { z } from 'zod';

/** Thrown at start-up when the environment does not describe a runnable service. */
export class ConfigError extends Error {
  constructor(service: string, issues: z.ZodIssue[]) {
    const lines = issues.map((i) => `  - ${i.path.join('.') || '(env)'}: ${i.message}`);
    super(`${service}: invalid configuration\n${lines.join('\n')}`);
    this.name = 'ConfigError';
  }
}

const booleanFlag = z
  .enum(['0', '1', 'true', 'false'])
  .default('0')
  .transform((v) => v === '1' || v === 'true');

/** Settings every service reads. The names are the environment variables (see README). */
export const commonConfigShape = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/mdm'),
  /** Connections per service process (Postgres allows 100 in all by default). */
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:9092')
    .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[^:]+:\d+$/, 'host:port')).min(1)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Topics named mdm.<namespace>.… instead of mdm.…: systems that share a broker keep apart. */
  KAFKA_TOPIC_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes')
    .optional(),
  MDM_TEST_CLOCK: booleanFlag,
  MDM_CLOCK_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('mdm_clock'),
  HOST: z.string().default('127.0.0.1'),
};

export const serviceUrl = (defaultUrl: string) => z.string().url().default(defaultUrl);
export const port = (defaultPort: number) => z.coerce.number().int().min(0).max(65535).default(defaultPort);

/** Parses the environment once at start-up; a bad value stops the service with every problem listed. */
export function loadConfig<S extends z.ZodRawShape>(
  service: string,
  shape: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<S>> {
  const parsed = z.object(shape).safeParse(env);
  if (!parsed.success) throw new ConfigError(service, parsed.error.issues);
  return parsed.data;
}

export type CommonConfig = z.infer<z.ZodObject<typeof commonConfigShape>>;

import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Thrown at start-up when the environment does not describe a runnable service. */
export class ConfigError extends Error {
  constructor(service: string, issues: Pick<z.ZodIssue, 'path' | 'message'>[]) {
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
  /** Listening sockets on the service's port (SO_REUSEPORT, Linux): see listenOnPort in @mdm/platform/http. */
  LISTEN_SOCKETS: z.coerce.number().int().min(1).max(1024).default(128),
  /**
   * The key the gateway signs every call's context with and every service checks (HMAC-SHA256);
   * services sign their calls to each other with it too. Required in production.
   */
  MDM_GATEWAY_SIGNING_KEY: z.string().min(32, 'at least 32 characters').optional(),
};

/** Secrets a service refuses to start without when NODE_ENV=production (no made-up development value there). */
export const productionSecrets = ['MDM_GATEWAY_SIGNING_KEY'] as const;

/**
 * Where another service answers: one URL, or its instances' URLs separated by commas
 * (`http://a:3104,http://b:3104`), which callers balance across.
 */
export const serviceUrl = (defaultUrl: string) =>
  z
    .string()
    .default(defaultUrl)
    .refine((value) => value.split(',').every((u) => z.string().url().safeParse(u.trim()).success), 'a URL, or URLs separated by commas');
export const port = (defaultPort: number) => z.coerce.number().int().min(0).max(65535).default(defaultPort);

/**
 * Parses the environment once at start-up; a bad value stops the service with every problem listed
 * (by name and rule, never by value: some are secrets). Any variable of the shape may be given as a
 * file instead, `<NAME>_FILE` (how container platforms hand secrets over); its content, without the
 * final line break, is the value. `required` names variables that must then have a value.
 */
export function loadConfig<S extends z.ZodRawShape>(
  service: string,
  shape: S,
  env: NodeJS.ProcessEnv = process.env,
  required: readonly string[] = [],
): z.infer<z.ZodObject<S>> {
  const issues: Pick<z.ZodIssue, 'path' | 'message'>[] = [];
  const values: NodeJS.ProcessEnv = { ...env };
  for (const name of Object.keys(shape)) {
    const file = env[`${name}_FILE`];
    if (file === undefined) continue;
    if (env[name] !== undefined) {
      issues.push({ path: [name], message: `set both ${name} and ${name}_FILE: give one` });
      continue;
    }
    try {
      values[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      issues.push({ path: [`${name}_FILE`], message: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
    }
  }
  const parsed = z.object(shape).safeParse(values);
  if (!parsed.success) issues.push(...parsed.error.issues);
  for (const name of required) {
    if (values[name] === undefined && !issues.some((i) => i.path[0] === name)) {
      issues.push({ path: [name], message: `required when NODE_ENV=production (or ${name}_FILE)` });
    }
  }
  if (issues.length || !parsed.success) throw new ConfigError(service, issues);
  return parsed.data;
}

export type CommonConfig = z.infer<z.ZodObject<typeof commonConfigShape>>;

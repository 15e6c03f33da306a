// `npm start`: Kafka (unless KAFKA_BROKERS is given), a check of Postgres, then every service and
// the gateway as supervised child processes with their logs in logs/, stopped together on Ctrl-C.
// `npm start -- --replicas device-sync=2,projection=2` (or MDM_REPLICAS) runs several instances of a service.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Client } from 'pg';
import { ensureDatabase } from '@mdm/platform/database';
import { ProcessStack, startProcessStack } from './processes';
import { parseReplicas } from './services';

const root = path.resolve(__dirname, '../..');
const logDir = path.join(root, 'logs');
const host = process.env.HOST ?? '127.0.0.1';

function say(line: string) {
  process.stdout.write(`${line}\n`);
}

async function checkPostgres(url: string) {
  const server = new URL(url);
  server.pathname = '/postgres';
  const client = new Client({ connectionString: server.toString(), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `Postgres is not reachable at ${server.host} (${(err as Error).message}).\n` +
        `  Start it (e.g. pg_ctlcluster --skip-systemctl-redirect 15 main start) or set DATABASE_URL.`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  await ensureDatabase(url);
}

async function main() {
  const env: NodeJS.ProcessEnv = { ...process.env };
  let startedKafka = false;
  const generatedToken = !env.MDM_OPERATOR_TOKEN && !env.MDM_OPERATOR_TOKEN_FILE && env.NODE_ENV !== 'production';
  let stack: ProcessStack | undefined;
  let stopping: Promise<never> | undefined;
  // Every way out goes through here: the services drained, the broker this run started stopped.
  // A second signal while stopping changes nothing (a service is never killed mid-drain).
  const stop = (code: number): Promise<never> =>
    (stopping ??= (async () => {
      say('\nstopping…');
      await stack?.stop().catch((err) => say(`stopping the services failed: ${(err as Error).message}`));
      if (startedKafka) {
        try {
          execFileSync('bash', [path.join(root, 'infra/kafka/kafka.sh'), 'stop'], { stdio: 'inherit' });
        } catch {
          say('stopping the Kafka broker failed: see infra/kafka/kafka.sh status');
          code ||= 1;
        }
      }
      process.exit(code);
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) say(`${signal} again: still stopping (each service drains, bounded)`);
      void stop(0);
    });
  }

  try {
    const flag = process.argv.indexOf('--replicas');
    const replicas = parseReplicas(flag >= 0 ? process.argv[flag + 1] : env.MDM_REPLICAS);
    if (!env.KAFKA_BROKERS) {
      const running = spawnSyncStatus();
      startedKafka = !running;
      execFileSync('bash', [path.join(root, 'infra/kafka/kafka.sh'), 'start'], { stdio: 'inherit' });
      env.KAFKA_BROKERS = `127.0.0.1:${env.KAFKA_PORT ?? 9092}`;
    }
    // The admin console the gateway serves at `/` (nx skips an unchanged build).
    execFileSync(path.join(root, 'node_modules/.bin/nx'), ['build', 'console', '--outputStyle=static'], { cwd: root, stdio: 'inherit', env: { ...env, NX_DAEMON: 'false' } });
    env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/mdm';
    await checkPostgres(env.DATABASE_URL);
    // Development secrets of this run, shared by every service it starts; production brings its own.
    if (generatedToken) env.MDM_OPERATOR_TOKEN = `mdm_dev_${randomBytes(24).toString('base64url')}`;
    if (!env.MDM_GATEWAY_SIGNING_KEY && !env.MDM_GATEWAY_SIGNING_KEY_FILE && env.NODE_ENV !== 'production') {
      env.MDM_GATEWAY_SIGNING_KEY = randomBytes(32).toString('base64url');
    }
    stack = await startProcessStack({
      env,
      logDir,
      host,
      say,
      onStarted: (app, url) => say(`  ${app.padEnd(12)} ${url}`),
      // While the stack still starts, its start fails instead (and stops what it started first).
      onGiveUp: () => {
        if (stack) void stop(1);
      },
      replicas,
    });
  } catch (err) {
    say(String((err as Error).message));
    await stop(1);
    return;
  }

  const gatewayUrl = stack.url;
  say('');
  say(`MDM authority platform is running: ${gatewayUrl}`);
  say(`  console:        ${gatewayUrl}/  (sign in with a token)`);
  say(`  API:            ${gatewayUrl}/api/v1  (OpenAPI: ${gatewayUrl}/api/v1/openapi.json)`);
  say(`  operator token: ${generatedToken ? env.MDM_OPERATOR_TOKEN : 'as configured (MDM_OPERATOR_TOKEN)'}`);
  if (!env.MDM_CA_KEY_ENCRYPTION_KEY && !env.MDM_CA_KEY_ENCRYPTION_KEY_FILE) {
    say('  device CA key:  sealed with the public development key-encryption key (set MDM_CA_KEY_ENCRYPTION_KEY or _FILE)');
  }
  say(`  logs:           ${logDir}/<service>.log (JSON lines)`);
  say('A service that dies is restarted (with backoff; npm start gives up, exit status 1, after repeated quick deaths).');
  say('Ctrl-C stops everything.');
}

/** Whether a broker is already running (then `npm start` reuses it and leaves it running). */
function spawnSyncStatus(): boolean {
  try {
    execFileSync('bash', [path.join(root, 'infra/kafka/kafka.sh'), 'status'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

void main();

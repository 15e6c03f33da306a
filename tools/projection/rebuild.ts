/**
 * npm run projection:rebuild — R30 from the command line: as the platform operator, through the
 * gateway (GATEWAY_URL, default http://127.0.0.1:3000; the services answer only the gateway's signed
 * calls), asks the projection to replay the event topics into fresh view tables, follows the replay
 * while the live views keep serving, and ends when the views have switched over.
 * Needs MDM_OPERATOR_TOKEN (or MDM_OPERATOR_TOKEN_FILE): the one `npm start` printed.
 */
import { readFileSync } from 'node:fs';
import { RebuildStatus } from '@mdm/contracts/projection';

const base = process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000';
const path = '/api/v1/system/projection/rebuild';

function operatorToken(): string {
  const file = process.env.MDM_OPERATOR_TOKEN_FILE;
  const token = file ? readFileSync(file, 'utf8').trim() : process.env.MDM_OPERATOR_TOKEN;
  if (!token) throw new Error('set MDM_OPERATOR_TOKEN (or MDM_OPERATOR_TOKEN_FILE) to the operator token');
  return token;
}

async function call(method: 'GET' | 'POST', token: string): Promise<RebuildStatus> {
  const res = await fetch(new URL(path, base), { method, headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as RebuildStatus & { code?: string; message?: string };
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${body.code ?? ''} ${body.message ?? ''}`);
  return body;
}

async function main(): Promise<void> {
  const token = operatorToken();
  const started = await call('POST', token);
  process.stdout.write(`rebuilding the views into generation ${started.rebuild!.generation} (live: ${started.liveGeneration})\n`);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const { rebuild, liveGeneration } = await call('GET', token);
    if (!rebuild) throw new Error('the projection service forgot the rebuild (restarted?)');
    process.stdout.write(`  ${rebuild.status}: ${rebuild.eventsApplied} events replayed\n`);
    if (rebuild.status === 'failed') throw new Error(`rebuild failed: ${rebuild.error}`);
    if (rebuild.status === 'switched') {
      process.stdout.write(`views now served from generation ${liveGeneration}\n`);
      return;
    }
  }
}

main().catch((err) => {
  process.stderr.write(`projection:rebuild: ${(err as Error).message}\n`);
  process.exit(1);
});

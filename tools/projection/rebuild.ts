/**
 * npm run projection:rebuild — R30 from the command line: asks the running projection service
 * (PROJECTION_URL, default http://127.0.0.1:3105) to replay the event topics into fresh view tables,
 * follows the replay while the live views keep serving, and ends when the views have switched over.
 * The same call is open to the platform operator through the gateway: POST /api/v1/system/projection/rebuild.
 */
import { RebuildStatus } from '@mdm/contracts/projection';

const base = process.env.PROJECTION_URL ?? 'http://127.0.0.1:3105';
const path = '/api/v1/system/projection/rebuild';

async function call(method: 'GET' | 'POST'): Promise<RebuildStatus> {
  const res = await fetch(new URL(path, base), { method });
  const body = (await res.json()) as RebuildStatus & { code?: string; message?: string };
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${body.code ?? ''} ${body.message ?? ''}`);
  return body;
}

async function main(): Promise<void> {
  const started = await call('POST');
  process.stdout.write(`rebuilding the views into generation ${started.rebuild!.generation} (live: ${started.liveGeneration})\n`);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const { rebuild, liveGeneration } = await call('GET');
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

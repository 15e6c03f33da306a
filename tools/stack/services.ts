import path from 'node:path';
import { ServiceDefinition } from '@mdm/platform/http';
import { authorityService } from '../../apps/authority/src/authority.definition';
import { deviceSyncService } from '../../apps/device-sync/src/device-sync.definition';
import { enrollmentService } from '../../apps/enrollment/src/enrollment.definition';
import { gatewayService } from '../../apps/api-gateway/src/gateway.definition';
import { licensingService } from '../../apps/licensing/src/licensing.definition';
import { projectionService } from '../../apps/projection/src/projection.definition';

export interface StackService {
  /** The app folder under apps/. */
  app: string;
  definition: ServiceDefinition;
  /** The gateway's setting that points at this service, if it is behind the gateway. */
  urlVariable?: string;
}

/** Every service of the system (all started at once); the gateway last: it is stopped first, so nothing is called after it stopped. */
export const stackServices: StackService[] = [
  { app: 'authority', definition: authorityService, urlVariable: 'AUTHORITY_URL' },
  { app: 'licensing', definition: licensingService, urlVariable: 'LICENSING_URL' },
  { app: 'enrollment', definition: enrollmentService, urlVariable: 'ENROLLMENT_URL' },
  { app: 'device-sync', definition: deviceSyncService, urlVariable: 'DEVICE_SYNC_URL' },
  { app: 'projection', definition: projectionService, urlVariable: 'PROJECTION_URL' },
  { app: 'api-gateway', definition: gatewayService },
];

const root = path.resolve(__dirname, '../..');

/**
 * How the stack runs its services, from `MDM_SERVICES_FROM`: `dist` (the default: the bundles of
 * `nx build`, as the images run them), `src` (the TypeScript sources through tools/register.js) or
 * `watch` (the sources, each service restarted when a file it loaded changes: `npm run dev`).
 */
export type ServicesFrom = 'dist' | 'src' | 'watch';

export function servicesFrom(env: NodeJS.ProcessEnv): ServicesFrom {
  const from = env.MDM_SERVICES_FROM ?? 'dist';
  if (from !== 'dist' && from !== 'src' && from !== 'watch') throw new Error(`MDM_SERVICES_FROM must be dist, src or watch, not ${from}`);
  return from;
}

const DEVICE_PATH = new Set(['device-sync', 'api-gateway']);

/**
 * The V8 settings of a service's process, wherever it runs: here, and in the image (the
 * Dockerfile's CMD repeats them; its spec checks they are these). A young generation of at most
 * 4 MB a half, instead of 16, keeps an idle service's resident memory low (bench (o)). The two
 * services every device call passes through keep 16: their calls' short-lived garbage then dies
 * young in fewer, cheaper scavenges (bench (i)), for a few MB more at rest. The old generation is
 * unchanged.
 */
export function serviceNodeFlags(app: string): string[] {
  return [`--max-semi-space-size=${DEVICE_PATH.has(app) ? 16 : 4}`];
}

/** The arguments to node that start one service's process (run with the repository as cwd). */
export function serviceCommand(app: string, from: ServicesFrom): string[] {
  if (from === 'dist') return [...serviceNodeFlags(app), path.join(root, 'dist/apps', app, 'main.js')];
  const source = [...serviceNodeFlags(app), '-r', path.join(root, 'tools/register.js'), path.join(root, 'apps', app, 'src/main.ts')];
  return from === 'watch' ? ['--watch', ...source] : source;
}

/** Ports of a service's further instances: its own port plus this times the instance's index. */
export const REPLICA_PORT_STEP = 10;

/**
 * Instances per service from `--replicas` / `MDM_REPLICAS`: `2` (every service) or
 * `device-sync=2,projection=3` (the rest one each); a later entry wins.
 */
export function parseReplicas(spec: string | undefined): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(stackServices.map((s) => [s.app, 1]));
  for (const entry of (spec ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const [name, value] = entry.includes('=') ? entry.split('=') : ['*', entry];
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`replicas: ${entry}: a count from 1 to 9`);
    if (name === '*') for (const app of Object.keys(counts)) counts[app] = n;
    else if (name in counts) counts[name] = n;
    else throw new Error(`replicas: ${entry}: no service ${name} (${Object.keys(counts).join(', ')})`);
  }
  return counts;
}

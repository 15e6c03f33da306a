import { Fleet } from './fleet';
import { GatewayClient } from './gateway-client';
import { FleetState } from './state-file';

/** What the tenant's views say (R26), or why they could not be read. */
export type ViewsSummary =
  | {
      total: number;
      byManagedBy: Record<string, number>;
      byMigration: Record<string, number>;
      byCompliance: Record<string, number>;
      lagMs: number;
    }
  | { error: string };

/** One line of `--json`, and what the terminal shows. */
export interface Summary {
  at: string;
  elapsedSeconds: number;
  devices: { enrolled: number; active: number; pollsOpen: number; checkInsInFlight: number; checkInsQueued: number; scheduled: number };
  checkInsPerSecond: number;
  totals: { checkIns: number; notifications: number; commandsRun: number; renewals: number; removed: number; errors: number };
  errorsByKind: Record<string, number>;
  views: ViewsSummary | null;
  /** The agent's memory, and what it grew by per active device since it started. */
  memory: { rssMb: number; heapUsedMb: number; rssPerDeviceKb: number; heapPerDeviceKb: number };
}

export interface MemoryBaseline {
  rss: number;
  heapUsed: number;
}

/**
 * The memory in use now; after a full collection when the process runs with --expose-gc (the
 * bench's agent does), so that the growth per device is not hidden by garbage not yet collected.
 */
export function memoryNow(): MemoryBaseline {
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

const MB = 1024 * 1024;
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Summaries at intervals: the fleet's counters, their rate since the last one, and the views. */
export class SummaryReporter {
  private readonly started = Date.now();
  private last = { at: Date.now(), checkIns: 0 };

  constructor(
    private readonly fleet: Fleet,
    private readonly client: GatewayClient,
    private readonly state: FleetState,
    private readonly baseline: MemoryBaseline,
  ) {
    this.last.checkIns = fleet.counters.checkIns;
  }

  async collect(): Promise<Summary> {
    const now = Date.now();
    const s = this.fleet.snapshot();
    const c = s.counters;
    const rate = ((c.checkIns - this.last.checkIns) * 1000) / Math.max(1, now - this.last.at);
    this.last = { at: now, checkIns: c.checkIns };
    const mem = memoryNow();
    const perDevice = (grown: number) => (s.active > 0 ? round(grown / s.active / 1024, 2) : 0);
    return {
      at: new Date(now).toISOString(),
      elapsedSeconds: round((now - this.started) / 1000),
      devices: {
        enrolled: s.devices,
        active: s.active,
        pollsOpen: s.pollsOpen,
        checkInsInFlight: s.checkInsInFlight,
        checkInsQueued: s.checkInsQueued,
        scheduled: s.scheduled,
      },
      checkInsPerSecond: round(rate),
      totals: { checkIns: c.checkIns, notifications: c.notifications, commandsRun: c.commandsRun, renewals: c.renewals, removed: c.removed, errors: c.errors },
      errorsByKind: { ...c.errorsByKind },
      views: await this.views(),
      memory: {
        rssMb: round(mem.rss / MB),
        heapUsedMb: round(mem.heapUsed / MB),
        rssPerDeviceKb: perDevice(mem.rss - this.baseline.rss),
        heapPerDeviceKb: perDevice(mem.heapUsed - this.baseline.heapUsed),
      },
    };
  }

  /** R26: the tenant overview, read with the admin token (none: no views). */
  private async views(): Promise<ViewsSummary | null> {
    if (!this.state.adminToken) return null;
    try {
      const res = await this.client.json<{
        devices: { total: number; byManagedBy: Record<string, number>; byMigration: Record<string, number>; byCompliance: Record<string, number> };
        lagMs: number;
      }>(`/api/v1/tenants/${this.state.tenantId}/overview`, { token: this.state.adminToken });
      if (res.status !== 200) return { error: `overview: ${res.status} ${(res.body as { code?: string })?.code ?? ''}` };
      const d = res.body.devices;
      return { total: d.total, byManagedBy: d.byManagedBy, byMigration: d.byMigration, byCompliance: d.byCompliance, lagMs: res.body.lagMs };
    } catch (err) {
      return { error: `overview: ${(err as Error).message}` };
    }
  }
}

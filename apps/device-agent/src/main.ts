/**
 * npm run devices -- …: a fleet of simulated devices against a running system (see README,
 * "Device agent"). Ctrl-C stops it and keeps the fleet in the state file; the same command resumes.
 */
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { MultiBar, Presets, SingleBar } from 'cli-progress';
import { createLogger, logDestination } from '@mdm/platform/logging';
import { PLATFORMS, RunningAgent, parseMix, readUserIds, startAgent } from './agent';
import { Platform } from './state-file';
import { Summary } from './summary';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => (text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`an integer ${min}..${max}`);
  return n;
};
const urls = (text: string) => {
  const list = text.split(',').map((u) => u.trim());
  for (const u of list) if (!URL.canParse(u)) throw new InvalidArgumentError(`${u}: not a URL`);
  return list;
};
const share = (text: string) => {
  const n = Number(text);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('a share 0..1');
  return n;
};

const program = new Command('devices')
  .description('Simulated MDM devices: enroll a fleet, keep its long polls open, check in, run remote actions, renew certificates.')
  .addOption(new Option('--gateway <url>', 'the API gateway').env('GATEWAY_URL').default('http://127.0.0.1:3000'))
  .option('--state <file>', 'the fleet: devices with credentials, keys, certificates and schedules (resumed when it exists)', 'device-fleet.json')
  .option('-n, --devices <n>', 'fleet size: enrolls what the state file lacks', int(0), 0)
  .option('--platforms <mix>', `platform mix, weights after a colon (${PLATFORMS.join(', ')})`, 'android:2,windows:1,ios:1')
  .option('--tenant <id>', 'the tenant to enroll in (kept in the state file)')
  .addOption(new Option('--token <token>', 'admin or enroller token to enroll with').env('MDM_TOKEN'))
  .addOption(new Option('--admin-token <token>', 'admin token for users and the views of the summary (default: --token)').env('MDM_ADMIN_TOKEN'))
  .addOption(new Option('--operator-token <token>', 'creates a tenant when there is none').env('MDM_OPERATOR_TOKEN'))
  .addOption(new Option('--authority <a>', 'authority of a tenant the agent creates').choices(['office365', 'intune']).default('office365'))
  .option('--create-users <n>', 'users to have, created through the API with a licence each', int(0), 0)
  .option('--licenses <mix>', 'licence mix of created users (SKUs, weights after a colon)', 'M365_E3')
  .option('--users-file <file>', 'user ids to enroll devices for, one a line (instead of creating users)')
  .option('--noncompliant <share>', 'share of devices reporting no passcode', share, 0)
  .option('--wait-seconds <s>', 'long-poll wait', int(1, 60), 55)
  .option('--jitter <s>', 'scheduled check-ins come up to this much after nextCheckInAt', int(0), 300)
  .option('--concurrency <n>', 'check-ins in flight', int(1), 64)
  .option('--enroll-concurrency <n>', 'enrollments in flight', int(1), 16)
  .option('--poll-ramp <n>', 'long polls opened per second at start', int(1), 2000)
  .option('--max-polls <n>', 'long-poll connections (default: one per device)', int(1))
  .option('--poll-url <urls>', 'long poll through these gateways (replicas; comma-separated, devices spread over them) instead of --gateway (see README on file limits)', urls)
  .option('--sign', 'sign check-ins and polls with the device certificate (Mdm-Signature), when the server issued one for the device key')
  .option('--clock-refresh <ms>', 'how often the server clock is read', int(100), 5000)
  .option('--interval <s>', 'summary interval', int(1), 2)
  .option('--duration <s>', 'stop after this long (0: on Ctrl-C)', int(0), 0)
  .option('--json', 'one JSON summary a line on stdout, no terminal UI')
  .option('--log <file>', 'JSON log of the agent', path.join('logs', 'device-agent.log'))
  .option('--log-level <level>', 'pino level', 'info');

interface Cli {
  gateway: string;
  state: string;
  devices: number;
  platforms: string;
  tenant?: string;
  token?: string;
  adminToken?: string;
  operatorToken?: string;
  authority: 'intune' | 'office365';
  createUsers: number;
  licenses: string;
  usersFile?: string;
  noncompliant: number;
  waitSeconds: number;
  jitter: number;
  concurrency: number;
  enrollConcurrency: number;
  pollRamp: number;
  maxPolls?: number;
  pollUrl?: string[];
  clockRefresh: number;
  sign?: boolean;
  interval: number;
  duration: number;
  json?: boolean;
  log: string;
  logLevel: string;
}

/** The terminal: progress of enrollment and polls, migration in the views, rates and errors. */
class Screen {
  private readonly bars = new MultiBar({ clearOnComplete: false, hideCursor: true, autopadding: true, forceRedraw: true }, Presets.shades_grey);
  private readonly enrolled: SingleBar;
  private readonly polls: SingleBar;
  private readonly migrated: SingleBar;
  private readonly managed: SingleBar;
  private readonly activity: SingleBar;

  constructor(target: number) {
    // Lines without a bar.
    const line = (format: string) => this.bars.create(1, 0, {}, { format });
    this.enrolled = this.bars.create(Math.max(1, target), 0, {}, { format: 'enrolled     {bar} {value}/{total}  active {active}' });
    this.polls = this.bars.create(1, 0, {}, { format: 'long polls   {bar} {value}/{total}  check-ins queued {queued}, in flight {inFlight}, scheduled {scheduled}' });
    const none = { pending: '-', support: '-', apns: '-', expired: '-' };
    this.migrated = this.bars.create(1, 0, none, { format: 'migrated     {bar} {value}/{total}  pendingCheckIn {pending}  needsSupport {support}  blockedApns {apns}  expired {expired}' });
    this.managed = line('views        devices {devices}  intune {intune}  office365 {office365}  compliant {compliant}  noncompliant {noncompliant}  lag {lag}');
    this.activity = line('agent        {rate} check-ins/s  total {checkIns}  notified {notifications}  actions {commands}  renewals {renewals}  errors {errors}{top}  {memory}');
  }

  show(s: Summary): void {
    const d = s.devices;
    this.enrolled.setTotal(Math.max(this.enrolled.getTotal(), d.enrolled, 1));
    this.enrolled.update(d.enrolled, { active: d.active });
    this.polls.setTotal(Math.max(1, d.active));
    this.polls.update(d.pollsOpen, { queued: d.checkInsQueued, inFlight: d.checkInsInFlight, scheduled: d.scheduled });
    const v = s.views;
    if (v && !('error' in v)) {
      const m = v.byMigration;
      const affected = Object.values(m).reduce((a, b) => a + b, 0);
      this.migrated.setTotal(Math.max(1, affected));
      this.migrated.update(m.migrated ?? 0, { pending: m.pendingCheckIn ?? 0, support: m.needsSupport ?? 0, apns: m.blockedApns ?? 0, expired: m.legacyProfilesExpired ?? 0 });
      this.managed.update(0, {
        devices: v.total,
        intune: v.byManagedBy.intune ?? 0,
        office365: v.byManagedBy.office365 ?? 0,
        compliant: v.byCompliance.compliant ?? 0,
        noncompliant: v.byCompliance.noncompliant ?? 0,
        lag: `${v.lagMs} ms`,
      });
    } else {
      this.managed.update(0, { devices: '-', intune: '-', office365: '-', compliant: '-', noncompliant: '-', lag: v ? v.error : 'no admin token' });
    }
    const top = Object.entries(s.errorsByKind).sort((a, b) => b[1] - a[1])[0];
    this.activity.update(0, {
      rate: s.checkInsPerSecond,
      checkIns: s.totals.checkIns,
      notifications: s.totals.notifications,
      commands: s.totals.commandsRun,
      renewals: s.totals.renewals,
      errors: s.totals.errors,
      top: top ? ` (${top[0]}: ${top[1]})` : '',
      memory: `${s.memory.rssMb} MB, ${s.memory.rssPerDeviceKb} KB/device`,
    });
  }

  stop(): void {
    this.bars.stop();
  }
}

async function main(): Promise<void> {
  const cli = program.parse().opts<Cli>();
  const logger = createLogger('device-agent', cli.logLevel, logDestination({ dest: cli.log, mkdir: true, sync: false }));
  const agent: RunningAgent = await startAgent({
    gateway: cli.gateway,
    pollUrls: cli.pollUrl,
    stateFile: cli.state,
    devices: cli.devices,
    platforms: parseMix<Platform>(cli.platforms, PLATFORMS),
    noncompliantShare: cli.noncompliant,
    tenantId: cli.tenant,
    token: cli.token,
    adminToken: cli.adminToken,
    operatorToken: cli.operatorToken,
    authority: cli.authority,
    createUsers: cli.createUsers,
    licenses: parseMix(cli.licenses),
    userIds: cli.usersFile ? readUserIds(cli.usersFile) : undefined,
    waitSeconds: cli.waitSeconds,
    jitterMs: cli.jitter * 1000,
    concurrency: cli.concurrency,
    enrollConcurrency: cli.enrollConcurrency,
    pollRampPerSecond: cli.pollRamp,
    maxPolls: cli.maxPolls,
    clockRefreshMs: cli.clockRefresh,
    sign: cli.sign ?? false,
    logger,
  });
  const screen = cli.json ? undefined : new Screen(Math.max(cli.devices, agent.state.devices.length));
  if (!cli.json) process.stderr.write(`tenant ${agent.state.tenantId}, state ${cli.state}, server accepts CSRs: ${agent.features.enrollmentCsr}\n`);
  const report = async () => {
    const s = await agent.reporter.collect();
    if (cli.json) process.stdout.write(`${JSON.stringify(s)}\n`);
    else screen!.show(s);
  };
  // The first summary at once: the screen's lines have their values from the start.
  await report();
  let saves = 0;
  const timer = setInterval(() => {
    void report();
    // The state is a few MB for 10,000 devices: written every fifth summary when something changed.
    if (++saves % 5 === 0 && agent.fleet.dirty) agent.save();
  }, cli.interval * 1000);
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    await agent.stop();
    await report();
    screen?.stop();
    logger.flush();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  agent.enrollment.catch((err: Error) => {
    process.stderr.write(`\n${err.message}\n`);
    void stop(1);
  });
  if (cli.duration > 0) setTimeout(() => void stop(0), cli.duration * 1000);
}

main().catch((err: Error) => {
  process.stderr.write(`device agent: ${err.message}\n`);
  process.exit(1);
});

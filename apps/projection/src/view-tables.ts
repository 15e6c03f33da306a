import { DeviceListItem } from '@mdm/contracts/projection';
import { DeviceState, certificate, removalDueAt } from '@mdm/projection/domain';
import { sqlMigration } from '@mdm/platform/database';

/**
 * The device columns that lists filter and sort on, with their types and how each comes from a
 * visible device's state: the table's definition and the projector's writes both come from here.
 */
export const DEVICE_COLUMNS = {
  platform: ['text', (_, item) => item.platform],
  user_id: ['uuid', (_, item) => item.userId],
  managed_by: ['text', (_, item) => item.managedBy],
  compliance: ['text', (_, item) => item.compliance],
  migration: ['text', (_, item) => item.migration],
  migration_since: ['timestamptz', (d) => d.migration.since],
  requested_at: ['timestamptz', (d) => d.request?.at ?? null],
  next_check_in_at: ['timestamptz', (d) => d.schedule.nextCheckInAt],
  certificate_not_after: ['timestamptz', (d) => certificate(d).notAfter],
  removal_due_at: ['timestamptz', (d) => removalDueAt(d)],
} satisfies Record<string, [type: string, of: (device: DeviceState, item: DeviceListItem) => unknown]>;

/**
 * The view tables of one generation. A rebuild (R30) fills generation n+1 from the topics while
 * generation n serves, then switches: the names carry the generation.
 */
export class ViewTables {
  readonly tenants: string;
  readonly devices: string;
  readonly timeline: string;
  readonly users: string;

  constructor(readonly generation: number) {
    const prefix = `g${generation}_`;
    this.tenants = `${prefix}tenants`;
    this.devices = `${prefix}devices`;
    this.timeline = `${prefix}timeline`;
    this.users = `${prefix}users`;
  }

  create(): string[] {
    return [
      `create table ${this.tenants} (
         tenant_id uuid primary key,
         doc       jsonb,
         -- R29: when the newest event applied for this tenant was recorded
         as_of     timestamptz)`,
      // The state of a device is its doc (the fold of its events) with its lists apart (DeviceLists);
      // the columns copy what lists filter and sort on.
      `create table ${this.devices} (
         device_id        uuid primary key,
         tenant_id        uuid not null,
         doc              jsonb,
         lists            jsonb,
         visible          boolean not null default false,
         ${Object.entries(DEVICE_COLUMNS).map(([name, [type]]) => `${name} ${type},`).join('\n         ')}
         redundant_count  int not null default 0)
       with (${DEVICE_ROW_STORAGE})`,
      `create index ${this.devices}_list on ${this.devices} (tenant_id, device_id) where visible`,
      `create index ${this.devices}_removal on ${this.devices} (tenant_id, removal_due_at, device_id) where visible`,
      `create table ${this.timeline} (
         device_id   uuid not null,
         event_id    uuid not null,
         tenant_id   uuid not null,
         occurred_at timestamptz not null,
         recorded_at timestamptz not null,
         -- the device's causal order (see timelinePosition), then the order within one stream
         position    bigint not null,
         stream_version bigint not null,
         type        text not null,
         data        jsonb not null,
         -- when the view learned of the event: recorded_at to applied_at is the lag R29 talks about
         applied_at  timestamptz not null default clock_timestamp(),
         primary key (device_id, event_id))`,
      `create table ${this.users} (
         user_id     uuid primary key,
         tenant_id   uuid not null,
         doc         jsonb not null,
         switched_at timestamptz)`,
      `create index ${this.users}_switches on ${this.users} (tenant_id, switched_at, user_id) where switched_at is not null`,
    ];
  }

  drop(): string[] {
    return [this.users, this.timeline, this.devices, this.tenants].map((t) => `drop table if exists ${t}`);
  }
}

/**
 * Every event rewrites its device's row. Room left on each page keeps the new version beside the old
 * (a HOT update: no new index entries) and lets page pruning reclaim the old one, where full pages
 * leave dead copies for vacuum (README, "Performance notes").
 */
const DEVICE_ROW_STORAGE = 'fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0';

export const ProjectionSchema1764500000000 = sqlMigration(
  'ProjectionSchema1764500000000',
  [
    // Which generation serves, and the last rebuild (R30). One row.
    `create table projection_state (
       id              boolean primary key default true check (id),
       live_generation int not null,
       rebuild         jsonb)`,
    `insert into projection_state (live_generation) values (1)`,
    ...new ViewTables(1).create(),
  ],
  [...new ViewTables(1).drop(), 'drop table projection_state'],
);

/**
 * A statement that runs `formats` (format() strings whose %I is the table) on every generation's
 * device table: a migration of the views reaches the tables of every generation, a rebuild's too.
 */
function onEveryDeviceTable(...formats: string[]): string {
  return `do $$
     declare t text;
     begin
       for t in select relname from pg_class where relnamespace = current_schema()::regnamespace and relname ~ '^g[0-9]+_devices$' loop
         ${formats.map((f) => `execute format($f$${f}$f$, t);`).join('\n         ')}
       end loop;
     end $$`;
}

/** The device tables created before DEVICE_ROW_STORAGE get it (pages written from now on follow it). */
export const DeviceRowStorage1764700000000 = sqlMigration('DeviceRowStorage1764700000000', [onEveryDeviceTable(`alter table %I set (${DEVICE_ROW_STORAGE})`)], []);

/**
 * The devices' configuration lists move out of their docs into a column of their own, so that an
 * event that leaves them as they are (most check-ins) neither reads nor rewrites them.
 */
export const DeviceListsApart1765100000000 = sqlMigration(
  'DeviceListsApart1765100000000',
  [
    onEveryDeviceTable(
      'alter table %I add column if not exists lists jsonb',
      `update %I set lists = jsonb_build_object('configurations', coalesce(doc->'sync'->'configurations', '[]'),
                                                'redundant', coalesce(doc->'sync'->'redundant', '[]')),
                     doc = doc #- '{sync,configurations}' #- '{sync,redundant}'
                where doc->'sync' ? 'configurations'`,
    ),
  ],
  [],
);

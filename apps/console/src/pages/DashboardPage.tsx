import { Suspense, lazy, memo, useDeferredValue } from 'react';
import {
  Button,
  Card,
  Link,
  MessageBar,
  MessageBarActions,
  MessageBarBody,
  MessageBarTitle,
  Spinner,
  Text,
  Title2,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { queryOptions, useQuery, type QueryKey, type UseQueryOptions } from '@tanstack/react-query';
import { Link as RouteLink, useLocation } from 'wouter';
import { api, call } from '../api/client';
import { LIVE_REFRESH_MS, useOverview } from '../api/queries';
import { authorityNames } from '../components/ChooseAuthorityDialog';
import { DataTable, type Column } from '../components/DataTable';
import type { ProgressPoint } from '../components/MigrationChart';
import { ErrorBar } from '../components/ErrorBar';
import { Panel } from '../components/Panel';
import { Freshness } from '../components/Freshness';
import { dateTime, legacyExpiry, relative } from '../format';
import { useTenant } from '../session/session';

// The chart's code starts loading with the dashboard's, beside its data, not after the data arrived.
const chartCode = import('../components/MigrationChart');
const MigrationChart = lazy(() => chartCode);

const useStyles = makeStyles({
  counts: { display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(160px, 1fr))', gap: tokens.spacingHorizontalM },
  count: { padding: tokens.spacingHorizontalM },
  number: { fontSize: tokens.fontSizeHero800, lineHeight: tokens.lineHeightHero800, fontWeight: tokens.fontWeightSemibold },
  panels: { display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(420px, 1fr))', gap: tokens.spacingHorizontalL },
});

const migrationStates = [
  ['migrated', 'Migrated'],
  ['pendingCheckIn', 'Pending check-in'],
  ['needsSupport', 'Needs support'],
  ['blockedApns', 'Blocked: no APNs certificate'],
  ['legacyProfilesExpired', 'Legacy profiles expired'],
] as const;

const live = { refetchInterval: LIVE_REFRESH_MS };

type Overview = NonNullable<ReturnType<typeof useOverview>['data']>;

/**
 * The dashboard's lists, each asked by its own panel as the dashboard opens (beside the overview, not
 * after it): one answering re-renders that panel, not the page.
 */
const lists = (tenantId: string) => {
  const path = { tenantId };
  return {
    redundant: queryOptions({
      queryKey: ['report-redundant', tenantId],
      queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/reports/redundant-configurations', { params: { path, query: { limit: 10 } } })),
      ...live,
    }),
    unconfigured: queryOptions({
      queryKey: ['report-unconfigured', tenantId],
      queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/reports/unconfigured-switches', { params: { path, query: { limit: 10 } } })),
      ...live,
    }),
    needsSupport: queryOptions({
      queryKey: ['devices', tenantId, { migration: 'needsSupport', limit: 10 }],
      queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/devices', { params: { path, query: { migration: 'needsSupport', limit: 10 } } })),
      ...live,
    }),
  };
};

/** R16–R23, R26, R28: the migration as it happens, refreshed every few seconds, with the freshness of every number. */
export default function DashboardPage() {
  const { tenantId, abilities } = useTenant();
  const styles = useStyles();
  const [, navigate] = useLocation();
  const overview = useOverview(tenantId, true);
  const report = useQuery({
    queryKey: ['report-migration', tenantId],
    queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/reports/migration', { params: { path: { tenantId } } })),
    ...live,
  });
  const panels = lists(tenantId);
  // The page's frame (counts, panels, tables) is on screen before the data: when it arrives only the
  // numbers, the chart and the rows are drawn.
  const o = overview.data;
  const byMigration = o?.devices.byMigration;
  const changedAt = report.data?.changedAt;
  return (
    <>
      <Title2 as="h2">Migration</Title2>
      <ErrorBar error={overview.error} />
      {o ? <Freshness asOf={o.asOf} lagMs={o.lagMs} fetchedAt={overview.dataUpdatedAt} /> : <Spinner size="tiny" label="Loading the overview…" labelPosition="after" />}
      {o?.bannerVisible && (
        <MessageBar intent="warning">
          <MessageBarBody>
            <MessageBarTitle>Mobile device management authority: Unknown</MessageBarTitle>
            <Link as="a" href="/status" onClick={(e) => (e.preventDefault(), navigate('/status'))}>
              Choose the MDM authority
            </Link>
          </MessageBarBody>
        </MessageBar>
      )}
      {o && (
        <Text>
          Authority: <strong>{authorityNames[o.authority]}</strong>
          {report.data?.from && report.data.to && changedAt && ` · changed from ${authorityNames[report.data.from]} ${relative(changedAt)}`} · {o.devices.total} devices (
          {o.devices.byManagedBy.intune} Intune, {o.devices.byManagedBy.office365} Office 365)
        </Text>
      )}
      <Counts byMigration={byMigration} expected={o?.expectedByScheduledCheckIn} />
      {byMigration && byMigration.blockedApns > 0 && (
        <MessageBar intent="error" data-testid="blocked-apns">
          <MessageBarBody>
            <MessageBarTitle>{byMigration.blockedApns} Apple devices are blocked</MessageBarTitle>
            They cannot check in until an APNs certificate is uploaded to the new authority (R22).
          </MessageBarBody>
          {abilities.administer && (
            <MessageBarActions>
              <Button onClick={() => navigate('/status')}>Upload APNs certificate</Button>
            </MessageBarActions>
          )}
        </MessageBar>
      )}
      <div className={styles.panels}>
        <Progress points={report.data?.points} loading={report.isPending} />
        <LegacyProfiles changedAt={changedAt} pending={byMigration?.pendingCheckIn ?? 0} expired={byMigration?.legacyProfilesExpired ?? 0} />
            <ListPanel
              title="Needs support (userless devices, R17)"
              options={panels.needsSupport}
              empty="No device needs support."
              rowKey={(d) => d.deviceId}
              columns={[deviceColumn, { header: 'Platform', cell: (d) => d.platform }, { header: 'Managed by', cell: (d) => d.managedBy }]}
            />
            <ListPanel
              title="Redundant profiles (R21)"
              options={panels.redundant}
              empty="No redundant profile."
              rowKey={(r) => `${r.deviceId}-${r.name}-${r.type}`}
              columns={[deviceColumn, { header: 'Profile', cell: (r) => `${r.name} (${r.type})` }, { header: 'Authority', cell: (r) => r.authority }]}
            />
            <ListPanel
              title="Users switched without Intune configuration (R10)"
              options={panels.unconfigured}
              empty="Every switched user has an Intune configuration."
              rowKey={(u) => `${u.userId}-${u.switchedAt}`}
              columns={[
                { header: 'User', cell: (u) => <RouteLink href={`/users/${u.userId}`}>{u.userId}</RouteLink> },
                { header: 'From → to', cell: (u) => `${u.from ?? 'none'} → ${u.to ?? 'none'}` },
                { header: 'Switched', cell: (u) => dateTime(u.switchedAt) },
              ]}
            />
      </div>
    </>
  );
}

const deviceColumn: Column<{ deviceId: string }> = {
  header: 'Device',
  cell: (d) => <RouteLink href={`/devices/${d.deviceId}`}>{d.deviceId.slice(0, 8)}</RouteLink>,
};

/** The counts by migration state; the overview's refetch keeps unchanged parts identical, so an unchanged count does not re-render. */
const Counts = memo(function Counts({ byMigration, expected }: { byMigration?: Overview['devices']['byMigration']; expected?: Overview['expectedByScheduledCheckIn'] }) {
  const styles = useStyles();
  return (
    <section aria-label="Devices by migration state" aria-busy={!byMigration} className={styles.counts}>
      {migrationStates.map(([key, label]) => (
        <Card key={key} className={styles.count} data-testid={`count-${key}`}>
          <Text className={styles.number}>{byMigration?.[key] ?? '—'}</Text>
          <Text>{label}</Text>
        </Card>
      ))}
      <Card className={styles.count} data-testid="count-expected">
        <Text className={styles.number}>{expected?.count ?? '—'}</Text>
        <Text>
          Expected at their scheduled check-in
          {expected?.earliest && ` between ${dateTime(expected.earliest)} and ${dateTime(expected.latest)}`}
        </Text>
      </Card>
    </section>
  );
});

const Progress = memo(function Progress({ points, loading }: { points?: ProgressPoint[]; loading: boolean }) {
  return (
    <Panel title="Progress over time">
      {points && points.length > 0 ? (
        <Suspense fallback={<Spinner size="tiny" />}>
          <MigrationChart points={points} />
        </Suspense>
      ) : (
        <Text>{loading ? 'Loading…' : 'No authority change yet.'}</Text>
      )}
    </Panel>
  );
});

const LegacyProfiles = memo(function LegacyProfiles({ changedAt, pending, expired }: { changedAt?: string | null; pending: number; expired: number }) {
  return (
    <Panel title="Legacy profiles">
      {changedAt && pending > 0 ? (
        <Text data-testid="legacy-countdown">
          {pending} devices that have not checked in keep the old authority's profiles until {dateTime(legacyExpiry(changedAt))} (expire{' '}
          {relative(legacyExpiry(changedAt))}, R23).
        </Text>
      ) : (
        <Text>No device is waiting with the old authority's profiles.</Text>
      )}
      {expired > 0 && (
        <MessageBar intent="error">
          <MessageBarBody>{expired} devices lost their legacy profiles and are unprotected until they check in.</MessageBarBody>
        </MessageBar>
      )}
    </Panel>
  );
});

/** A panel of the first items of a list view: it watches its own query, so its refresh re-renders only itself. */
function ListPanel<D extends { items: unknown[] }, K extends QueryKey>({
  title,
  options,
  empty,
  rowKey,
  columns,
}: {
  title: string;
  options: UseQueryOptions<D, Error, D, K>;
  empty: string;
  rowKey(row: D['items'][number]): string;
  columns: Column<D['items'][number]>[];
}) {
  const list = useQuery(options);
  // The rows are drawn just after the counts and the chart, at a lower priority.
  const items = useDeferredValue(list.data?.items);
  return (
    <Panel title={title}>
      <ErrorBar error={list.error} />
      {items?.length ? <DataTable label={title} rows={items} rowKey={rowKey} columns={columns} /> : <Text>{items ? empty : 'Loading…'}</Text>}
    </Panel>
  );
}

import { Suspense, lazy } from 'react';
import {
  Button,
  Card,
  CardHeader,
  Link,
  MessageBar,
  MessageBarActions,
  MessageBarBody,
  MessageBarTitle,
  Spinner,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Text,
  Title2,
  Title3,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useQuery } from '@tanstack/react-query';
import { Link as RouteLink, useLocation } from 'wouter';
import { api, call } from '../api/client';
import { LIVE_REFRESH_MS, useOverview } from '../api/queries';
import { authorityNames } from '../components/ChooseAuthorityDialog';
import { ErrorBar } from '../components/ErrorBar';
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
  panel: { padding: tokens.spacingHorizontalL, display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
});

const migrationStates = [
  ['migrated', 'Migrated'],
  ['pendingCheckIn', 'Pending check-in'],
  ['needsSupport', 'Needs support'],
  ['blockedApns', 'Blocked: no APNs certificate'],
  ['legacyProfilesExpired', 'Legacy profiles expired'],
] as const;

const live = { refetchInterval: LIVE_REFRESH_MS };

/** R16–R23, R26, R28: the migration as it happens, refreshed every few seconds, with the freshness of every number. */
export default function DashboardPage() {
  const { tenantId, abilities } = useTenant();
  const styles = useStyles();
  const [, navigate] = useLocation();
  const path = { params: { path: { tenantId } } };
  const overview = useOverview(tenantId, true);
  const report = useQuery({ queryKey: ['report-migration', tenantId], queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/reports/migration', path)), ...live });
  const redundant = useQuery({
    queryKey: ['report-redundant', tenantId],
    queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/reports/redundant-configurations', { params: { path: { tenantId }, query: { limit: 10 } } })),
    ...live,
  });
  const unconfigured = useQuery({
    queryKey: ['report-unconfigured', tenantId],
    queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/reports/unconfigured-switches', { params: { path: { tenantId }, query: { limit: 10 } } })),
    ...live,
  });
  const needsSupport = useQuery({
    queryKey: ['devices', tenantId, { migration: 'needsSupport', limit: 10 }],
    queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/devices', { params: { path: { tenantId }, query: { migration: 'needsSupport', limit: 10 } } })),
    ...live,
  });

  if (overview.isPending) return <Spinner label="Loading the overview…" />;
  if (overview.isError) return <ErrorBar error={overview.error} />;
  const o = overview.data;
  const changedAt = report.data?.changedAt;
  return (
    <>
      <Title2 as="h2">Migration</Title2>
      <Freshness asOf={o.asOf} lagMs={o.lagMs} fetchedAt={overview.dataUpdatedAt} />
      {o.bannerVisible && (
        <MessageBar intent="warning">
          <MessageBarBody>
            <MessageBarTitle>Mobile device management authority: Unknown</MessageBarTitle>
            <Link as="a" href="/status" onClick={(e) => (e.preventDefault(), navigate('/status'))}>
              Choose the MDM authority
            </Link>
          </MessageBarBody>
        </MessageBar>
      )}
      <Text>
        Authority: <strong>{authorityNames[o.authority]}</strong>
        {report.data?.from && report.data.to && changedAt && ` · changed from ${authorityNames[report.data.from]} ${relative(changedAt)}`} · {o.devices.total} devices (
        {o.devices.byManagedBy.intune} Intune, {o.devices.byManagedBy.office365} Office 365)
      </Text>

      <section aria-label="Devices by migration state" className={styles.counts}>
        {migrationStates.map(([key, label]) => (
          <Card key={key} className={styles.count} data-testid={`count-${key}`}>
            <Text className={styles.number}>{o.devices.byMigration[key]}</Text>
            <Text>{label}</Text>
          </Card>
        ))}
        <Card className={styles.count} data-testid="count-expected">
          <Text className={styles.number}>{o.expectedByScheduledCheckIn.count}</Text>
          <Text>
            Expected at their scheduled check-in
            {o.expectedByScheduledCheckIn.earliest && ` between ${dateTime(o.expectedByScheduledCheckIn.earliest)} and ${dateTime(o.expectedByScheduledCheckIn.latest)}`}
          </Text>
        </Card>
      </section>

      {o.devices.byMigration.blockedApns > 0 && (
        <MessageBar intent="error" data-testid="blocked-apns">
          <MessageBarBody>
            <MessageBarTitle>{o.devices.byMigration.blockedApns} Apple devices are blocked</MessageBarTitle>
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
        <Card className={styles.panel}>
          <CardHeader header={<Title3 as="h3">Progress over time</Title3>} />
          {report.data && report.data.points.length > 0 ? (
            <Suspense fallback={<Spinner size="tiny" />}>
              <MigrationChart points={report.data.points} />
            </Suspense>
          ) : (
            <Text>No authority change yet.</Text>
          )}
        </Card>
        <Card className={styles.panel}>
          <CardHeader header={<Title3 as="h3">Legacy profiles</Title3>} />
          {changedAt && o.devices.byMigration.pendingCheckIn > 0 ? (
            <Text data-testid="legacy-countdown">
              {o.devices.byMigration.pendingCheckIn} devices that have not checked in keep the old authority's profiles until{' '}
              {dateTime(legacyExpiry(changedAt))} (expire {relative(legacyExpiry(changedAt))}, R23).
            </Text>
          ) : (
            <Text>No device is waiting with the old authority's profiles.</Text>
          )}
          {o.devices.byMigration.legacyProfilesExpired > 0 && (
            <MessageBar intent="error">
              <MessageBarBody>{o.devices.byMigration.legacyProfilesExpired} devices lost their legacy profiles and are unprotected until they check in.</MessageBarBody>
            </MessageBar>
          )}
        </Card>
        <DeviceTable title="Needs support (userless devices, R17)" items={needsSupport.data?.items} empty="No device needs support." />
        <Card className={styles.panel}>
          <CardHeader header={<Title3 as="h3">Redundant profiles (R21)</Title3>} />
          {redundant.data?.items.length ? (
            <Table size="small" aria-label="Redundant profiles">
              <TableHeader>
                <TableRow>
                  <TableHeaderCell>Device</TableHeaderCell>
                  <TableHeaderCell>Profile</TableHeaderCell>
                  <TableHeaderCell>Authority</TableHeaderCell>
                </TableRow>
              </TableHeader>
              <TableBody>
                {redundant.data.items.map((r) => (
                  <TableRow key={`${r.deviceId}-${r.name}-${r.type}`}>
                    <TableCell>
                      <RouteLink href={`/devices/${r.deviceId}`}>{r.deviceId.slice(0, 8)}</RouteLink>
                    </TableCell>
                    <TableCell>
                      {r.name} ({r.type})
                    </TableCell>
                    <TableCell>{r.authority}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          ) : (
            <Text>No redundant profile.</Text>
          )}
        </Card>
        <Card className={styles.panel}>
          <CardHeader header={<Title3 as="h3">Users switched without Intune configuration (R10)</Title3>} />
          {unconfigured.data?.items.length ? (
            <Table size="small" aria-label="Users switched without Intune configuration">
              <TableHeader>
                <TableRow>
                  <TableHeaderCell>User</TableHeaderCell>
                  <TableHeaderCell>From → to</TableHeaderCell>
                  <TableHeaderCell>Switched</TableHeaderCell>
                </TableRow>
              </TableHeader>
              <TableBody>
                {unconfigured.data.items.map((u) => (
                  <TableRow key={`${u.userId}-${u.switchedAt}`}>
                    <TableCell>{u.userId}</TableCell>
                    <TableCell>
                      {u.from ?? 'none'} → {u.to ?? 'none'}
                    </TableCell>
                    <TableCell>{dateTime(u.switchedAt)}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          ) : (
            <Text>Every switched user has an Intune configuration.</Text>
          )}
        </Card>
      </div>
    </>
  );
}

function DeviceTable({ title, items, empty }: { title: string; items?: { deviceId: string; platform: string; managedBy: string }[]; empty: string }) {
  const styles = useStyles();
  return (
    <Card className={styles.panel}>
      <CardHeader header={<Title3 as="h3">{title}</Title3>} />
      {items?.length ? (
        <Table size="small" aria-label={title}>
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Device</TableHeaderCell>
              <TableHeaderCell>Platform</TableHeaderCell>
              <TableHeaderCell>Managed by</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {items.map((d) => (
              <TableRow key={d.deviceId}>
                <TableCell>
                  <RouteLink href={`/devices/${d.deviceId}`}>{d.deviceId.slice(0, 8)}</RouteLink>
                </TableCell>
                <TableCell>{d.platform}</TableCell>
                <TableCell>{d.managedBy}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      ) : (
        <Text>{empty}</Text>
      )}
    </Card>
  );
}

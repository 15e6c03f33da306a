import { useState } from 'react';
import { Field, Input, Spinner, Title2 } from '@fluentui/react-components';
import { Link } from 'wouter';
import { api, call } from '../api/client';
import { LIVE_REFRESH_MS } from '../api/queries';
import { Choice } from '../components/Choice';
import { DataTable } from '../components/DataTable';
import { ErrorBar } from '../components/ErrorBar';
import { Freshness } from '../components/Freshness';
import { useLayoutStyles } from '../components/layout';
import { Pager, usePagedQuery } from '../components/Pager';
import { UUID, dateTime } from '../format';
import { useTenant } from '../session/session';

const PAGE_SIZE = 50;

const filterChoices = {
  managedBy: ['intune', 'office365'],
  compliance: ['compliant', 'noncompliant', 'notEvaluated'],
  migration: ['none', 'pendingCheckIn', 'migrated', 'needsSupport', 'blockedApns', 'legacyProfilesExpired'],
  platform: ['ios', 'ipados', 'macos', 'android', 'windows'],
} as const;
type FilterName = keyof typeof filterChoices;
type Filters = { [K in FilterName]?: (typeof filterChoices)[K][number] } & { userId?: string };

/** R27: the device list with every filter, a page at a time by cursor: a 100,000-device tenant is never loaded whole. */
export default function DevicesPage() {
  const { tenantId } = useTenant();
  const styles = useLayoutStyles();
  const [filters, setFilters] = useState<Filters>({});
  const [userInput, setUserInput] = useState('');
  const { pages, page } = usePagedQuery(
    ['devices', tenantId, filters],
    (cursor) => call(api.GET('/api/v1/tenants/{tenantId}/devices', { params: { path: { tenantId }, query: { ...filters, limit: PAGE_SIZE, ...cursor } } })),
    { refetchInterval: LIVE_REFRESH_MS },
  );
  const setFilter = (patch: Filters) => {
    setFilters((f) => ({ ...f, ...patch }));
    pages.reset();
  };
  const userInvalid = userInput !== '' && !UUID.test(userInput);

  return (
    <>
      <Title2 as="h2">Devices</Title2>
      <div className={styles.row} role="search" aria-label="Device filters">
        {(Object.keys(filterChoices) as FilterName[]).map((name) => (
          <Field key={name} label={name}>
            <Choice
              value={filters[name] ?? ''}
              options={['', ...filterChoices[name]]}
              text={(option) => option || 'any'}
              onChange={(value) => setFilter({ [name]: value || undefined })}
            />
          </Field>
        ))}
        <Field label="user id" validationMessage={userInvalid ? 'a user id (UUID)' : undefined}>
          <Input
            value={userInput}
            onChange={(_, d) => {
              setUserInput(d.value);
              if (d.value === '' || UUID.test(d.value)) setFilter({ userId: d.value || undefined });
            }}
          />
        </Field>
      </div>
      {page.data && <Freshness asOf={page.data.asOf} lagMs={page.data.lagMs} fetchedAt={page.dataUpdatedAt} />}
      <ErrorBar error={page.error} />
      {page.isPending ? (
        <Spinner label="Loading devices…" />
      ) : (
        page.data && (
          <DataTable
            label="Devices"
            rows={page.data.items}
            rowKey={(d) => d.deviceId}
            rowTestId="device-row"
            columns={[
              { header: 'Device', cell: (d) => <Link href={`/devices/${d.deviceId}`}>{d.deviceId}</Link> },
              { header: 'Platform', cell: (d) => d.platform },
              { header: 'User', cell: (d) => d.userId ?? 'userless' },
              { header: 'Managed by', cell: (d) => d.managedBy },
              { header: 'Compliance', cell: (d) => d.compliance },
              { header: 'Migration', cell: (d) => d.migration, testId: 'device-migration' },
              { header: 'Last check-in', cell: (d) => dateTime(d.lastCheckInAt) },
            ]}
          />
        )
      )}
      <Pager pages={pages} nextCursor={page.data?.nextCursor} />
    </>
  );
}

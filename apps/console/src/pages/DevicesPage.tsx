import { useState } from 'react';
import {
  Dropdown,
  Field,
  Input,
  Option,
  Spinner,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Title2,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api, call } from '../api/client';
import { LIVE_REFRESH_MS } from '../api/queries';
import { ErrorBar } from '../components/ErrorBar';
import { Freshness } from '../components/Freshness';
import { Pager, useCursorPages } from '../components/Pager';
import { dateTime } from '../format';
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

const useStyles = makeStyles({
  filters: { display: 'flex', gap: tokens.spacingHorizontalM, flexWrap: 'wrap', alignItems: 'end' },
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** R27: the device list with every filter, a page at a time by cursor: a 100,000-device tenant is never loaded whole. */
export default function DevicesPage() {
  const { tenantId } = useTenant();
  const styles = useStyles();
  const [filters, setFilters] = useState<Filters>({});
  const [userInput, setUserInput] = useState('');
  const pages = useCursorPages();
  const { cursor } = pages;
  const query = { ...filters, limit: PAGE_SIZE, ...(cursor && { cursor }) };
  const page = useQuery({
    queryKey: ['devices', tenantId, query],
    queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/devices', { params: { path: { tenantId }, query } })),
    placeholderData: keepPreviousData,
    refetchInterval: LIVE_REFRESH_MS,
  });
  const setFilter = (patch: Filters) => {
    setFilters((f) => ({ ...f, ...patch }));
    pages.reset();
  };
  const userInvalid = userInput !== '' && !UUID.test(userInput);

  return (
    <>
      <Title2 as="h2">Devices</Title2>
      <div className={styles.filters} role="search" aria-label="Device filters">
        {(Object.keys(filterChoices) as FilterName[]).map((name) => (
          <Field key={name} label={name}>
            <Dropdown
              value={filters[name] ?? 'any'}
              selectedOptions={[filters[name] ?? '']}
              onOptionSelect={(_, d) => setFilter({ [name]: d.optionValue || undefined })}
            >
              <Option value="">any</Option>
              {filterChoices[name].map((value) => (
                <Option key={value} value={value}>
                  {value}
                </Option>
              ))}
            </Dropdown>
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
          <Table aria-label="Devices" size="small">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Device</TableHeaderCell>
                <TableHeaderCell>Platform</TableHeaderCell>
                <TableHeaderCell>User</TableHeaderCell>
                <TableHeaderCell>Managed by</TableHeaderCell>
                <TableHeaderCell>Compliance</TableHeaderCell>
                <TableHeaderCell>Migration</TableHeaderCell>
                <TableHeaderCell>Last check-in</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {page.data.items.map((d) => (
                <TableRow key={d.deviceId} data-testid="device-row">
                  <TableCell>
                    <Link href={`/devices/${d.deviceId}`}>{d.deviceId}</Link>
                  </TableCell>
                  <TableCell>{d.platform}</TableCell>
                  <TableCell>{d.userId ?? 'userless'}</TableCell>
                  <TableCell>{d.managedBy}</TableCell>
                  <TableCell>{d.compliance}</TableCell>
                  <TableCell data-testid="device-migration">{d.migration}</TableCell>
                  <TableCell>{dateTime(d.lastCheckInAt)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )
      )}
      <Pager pages={pages} nextCursor={page.data?.nextCursor} />
    </>
  );
}

import { useState } from 'react';
import {
  Badge,
  Button,
  Card,
  Dropdown,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Option,
  SearchBox,
  Spinner,
  Text,
  Title2,
  Title3,
} from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useLocation, useParams, useSearch } from 'wouter';
import { api, call } from '../api/client';
import { Choice } from '../components/Choice';
import { DataTable } from '../components/DataTable';
import { ErrorBar } from '../components/ErrorBar';
import { useLayoutStyles } from '../components/layout';
import { Pager, usePagedQuery } from '../components/Pager';
import { UUID } from '../format';
import { useTenant } from '../session/session';

/** R8's license table. */
const skus = ['M365_BUSINESS_BASIC', 'M365_BUSINESS_STANDARD', 'O365_E1', 'O365_E3', 'M365_BUSINESS_PREMIUM', 'M365_E3', 'M365_E5', 'EMS_E3', 'EMS_E5', 'INTUNE_PLAN_1'];

/** The most groups offered when a user is created; a tenant with more finds them by the groups list. */
const GROUP_CHOICES = 500;

type Authority = 'intune' | 'office365' | null;

/** R8: who manages the user's devices; none means the user cannot enroll. */
function EffectiveAuthority({ authority }: { authority: Authority }) {
  if (!authority) return <Badge color="danger" appearance="outline">none (cannot enroll)</Badge>;
  return <Badge color={authority === 'intune' ? 'brand' : 'informative'}>{authority}</Badge>;
}

/**
 * R8–R10: the tenant's users with their effective authority (a page at a time, found by principal
 * name or group), a user's detail with license changes previewed (dry run, R10 warning) before they
 * are made, the groups with their members, and (for an admin) new users and groups.
 */
export default function UsersPage() {
  const { tenantId, abilities } = useTenant();
  const { userId } = useParams<{ userId?: string }>();
  const groupId = new URLSearchParams(useSearch()).get('groupId') ?? undefined;
  return (
    <>
      <Title2 as="h2">Users and licenses</Title2>
      {userId && <UserCard key={userId} tenantId={tenantId} userId={userId} canChange={abilities.administer} />}
      <UserList tenantId={tenantId} groupId={groupId && UUID.test(groupId) ? groupId : undefined} />
      <GroupList tenantId={tenantId} />
      {abilities.administer && <Directory tenantId={tenantId} />}
    </>
  );
}

function UserList({ tenantId, groupId }: { tenantId: string; groupId?: string }) {
  const styles = useLayoutStyles();
  const [prefix, setPrefix] = useState('');
  const q = prefix.trim() || undefined;
  const { pages, page } = usePagedQuery(['users', tenantId, { q, groupId }], (cursor) =>
    call(api.GET('/api/v1/tenants/{tenantId}/users', { params: { path: { tenantId }, query: { limit: 50, q, groupId, ...cursor } } })),
  );
  return (
    <Card className={styles.card}>
      <Title3 as="h3">Users</Title3>
      <div className={styles.row} role="search" aria-label="User filters">
        <Field label="Principal name starts with">
          <SearchBox
            value={prefix}
            dismiss={{ 'aria-label': 'Clear search' }}
            onChange={(_, d) => {
              setPrefix(d.value);
              pages.reset();
            }}
          />
        </Field>
        {groupId && (
          <Text>
            Members of group {groupId} · <Link href="/users">all users</Link>
          </Text>
        )}
      </div>
      <ErrorBar error={page.error} />
      {page.isPending ? (
        <Spinner label="Loading users…" />
      ) : (
        <DataTable
          label="Users"
          rows={page.data?.items ?? []}
          rowKey={(u) => u.userId}
          rowTestId="user-row"
          columns={[
            { header: 'User', cell: (u) => <Link href={`/users/${u.userId}`}>{u.userPrincipalName}</Link> },
            { header: 'Name', cell: (u) => u.displayName ?? '—' },
            { header: 'Effective authority', cell: (u) => <EffectiveAuthority authority={u.effectiveAuthority} />, testId: 'user-authority' },
            { header: 'Licenses', cell: (u) => u.licenses.join(', ') || 'none' },
            { header: 'Groups', cell: (u) => u.groupIds.length },
            { header: 'Devices', cell: (u) => u.deviceCount },
          ]}
        />
      )}
      <Pager pages={pages} nextCursor={page.data?.nextCursor} />
    </Card>
  );
}

function GroupList({ tenantId }: { tenantId: string }) {
  const styles = useLayoutStyles();
  const { pages, page } = usePagedQuery(['groups', tenantId], (cursor) =>
    call(api.GET('/api/v1/tenants/{tenantId}/groups', { params: { path: { tenantId }, query: { limit: 50, ...cursor } } })),
  );
  return (
    <Card className={styles.card}>
      <Title3 as="h3">Groups</Title3>
      <ErrorBar error={page.error} />
      <DataTable
        label="Groups"
        rows={page.data?.items ?? []}
        rowKey={(g) => g.groupId}
        rowTestId="group-row"
        columns={[
          { header: 'Group', cell: (g) => <Link href={`/users?groupId=${g.groupId}`}>{g.name}</Link> },
          { header: 'Members', cell: (g) => g.memberCount },
          { header: 'Group id', cell: (g) => g.groupId },
        ]}
      />
      <Pager pages={pages} nextCursor={page.data?.nextCursor} />
    </Card>
  );
}

function UserCard({ tenantId, userId, canChange }: { tenantId: string; userId: string; canChange: boolean }) {
  const styles = useLayoutStyles();
  const queryClient = useQueryClient();
  const [sku, setSku] = useState(skus[0]);
  const key = ['user', tenantId, userId];
  const path = { path: { tenantId, userId } };
  const changed = () => Promise.all([queryClient.invalidateQueries({ queryKey: key }), queryClient.invalidateQueries({ queryKey: ['users', tenantId] })]);
  const user = useQuery({ queryKey: key, queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/users/{userId}', { params: path })) });
  const license = useMutation({
    mutationFn: (dryRun: boolean) => call(api.POST('/api/v1/tenants/{tenantId}/users/{userId}/licenses', { params: path, body: { sku, dryRun } })),
    onSuccess: (_, dryRun) => !dryRun && changed(),
  });
  const remove = useMutation({
    mutationFn: (removed: string) => call(api.DELETE('/api/v1/tenants/{tenantId}/users/{userId}/licenses/{sku}', { params: { path: { ...path.path, sku: removed } } })),
    onSuccess: changed,
  });
  if (user.isError) return <ErrorBar error={user.error} />;
  if (!user.data) return <Spinner label="Loading the user…" />;
  const u = user.data;
  const outcome = license.data;
  return (
    <Card className={styles.card} aria-label={`User ${u.userPrincipalName}`}>
      <Title3 as="h3">{u.userPrincipalName}</Title3>
      <Text data-testid="effective-authority">
        Effective authority: <EffectiveAuthority authority={u.effectiveAuthority} />
      </Text>
      <Text>
        Licenses: {u.licenses.join(', ') || 'none'} · groups: {u.groupIds.length} · devices: {u.devices.length}
      </Text>
      {canChange && (
        <>
          {u.licenses.map((l) => (
            <Button key={l} size="small" onClick={() => remove.mutate(l)} disabled={remove.isPending}>
              Remove {l}
            </Button>
          ))}
          <div className={styles.row}>
            <Field label="License">
              <Choice
                value={sku}
                options={skus}
                onChange={(chosen) => {
                  license.reset();
                  setSku(chosen);
                }}
              />
            </Field>
            <Button onClick={() => license.mutate(true)} disabled={license.isPending}>
              Preview
            </Button>
            <Button appearance="primary" onClick={() => license.mutate(false)} disabled={license.isPending || !outcome}>
              Assign {sku}
            </Button>
          </div>
        </>
      )}
      {outcome && (
        <MessageBar intent={outcome.warnings.length ? 'warning' : 'info'} layout="multiline" data-testid="license-preview">
          <MessageBarBody>
            <MessageBarTitle>
              {outcome.dryRun ? 'Preview' : 'Assigned'}: {outcome.previousAuthority ?? 'none'} → {outcome.effectiveAuthority ?? 'none'}
            </MessageBarTitle>
            {outcome.devicesToSwitch} devices switch.
            {outcome.warnings.map((w) => (
              <div key={w.code}>
                <strong>{w.code}</strong>: {w.message}
              </div>
            ))}
          </MessageBarBody>
        </MessageBar>
      )}
      <ErrorBar error={license.error ?? remove.error} />
    </Card>
  );
}

/** New groups and users; a new user opens at once. */
function Directory({ tenantId }: { tenantId: string }) {
  const styles = useLayoutStyles();
  const queryClient = useQueryClient();
  const [, navigate] = useLocation();
  const [groupName, setGroupName] = useState('');
  const [upn, setUpn] = useState('');
  const [groupIds, setGroupIds] = useState<string[]>([]);
  const choices = useQuery({
    queryKey: ['groups', tenantId, 'choices'],
    queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/groups', { params: { path: { tenantId }, query: { limit: GROUP_CHOICES } } })),
  });
  const group = useMutation({
    mutationFn: () => call(api.POST('/api/v1/tenants/{tenantId}/groups', { params: { path: { tenantId } }, body: { name: groupName } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['groups', tenantId] }),
  });
  const user = useMutation({
    mutationFn: () => call(api.POST('/api/v1/tenants/{tenantId}/users', { params: { path: { tenantId } }, body: { userPrincipalName: upn, groupIds } })),
    onSuccess: (created) => {
      void queryClient.invalidateQueries({ queryKey: ['users', tenantId] });
      navigate(`/users/${created.userId}`);
    },
  });
  const names = new Map(choices.data?.items.map((g) => [g.groupId, g.name]));
  return (
    <Card className={styles.card}>
      <Title3 as="h3">New group or user</Title3>
      <div className={styles.row}>
        <Field label="Group name">
          <Input value={groupName} onChange={(_, d) => setGroupName(d.value)} />
        </Field>
        <Button onClick={() => group.mutate()} disabled={!groupName.trim() || group.isPending}>
          Create group
        </Button>
      </div>
      {group.data && <Text>Group {group.data.name} created: {group.data.groupId}</Text>}
      <ErrorBar error={group.error} />
      <div className={styles.row}>
        <Field label="User principal name" hint="an address like ada@contoso.com">
          <Input value={upn} onChange={(_, d) => setUpn(d.value)} />
        </Field>
        <Field label="Groups">
          <Dropdown
            multiselect
            placeholder="no group"
            value={groupIds.map((id) => names.get(id) ?? id).join(', ')}
            selectedOptions={groupIds}
            onOptionSelect={(_, d) => setGroupIds(d.selectedOptions)}
          >
            {choices.data?.items.map((g) => (
              <Option key={g.groupId} value={g.groupId}>
                {g.name}
              </Option>
            ))}
          </Dropdown>
        </Field>
        <Button onClick={() => user.mutate()} disabled={!upn.trim() || user.isPending}>
          Create user
        </Button>
      </div>
      <ErrorBar error={user.error} />
    </Card>
  );
}

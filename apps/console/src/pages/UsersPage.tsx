import { useState, type FormEvent } from 'react';
import {
  Button,
  Card,
  Dropdown,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Option,
  Text,
  Title2,
  Title3,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { ErrorBar } from '../components/ErrorBar';
import { useTenant } from '../session/session';

/** R8's license table. */
const skus = ['M365_BUSINESS_BASIC', 'M365_BUSINESS_STANDARD', 'O365_E1', 'O365_E3', 'M365_BUSINESS_PREMIUM', 'M365_E3', 'M365_E5', 'EMS_E3', 'EMS_E5', 'INTUNE_PLAN_1'];

const useStyles = makeStyles({
  card: { padding: tokens.spacingHorizontalL, display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM, maxWidth: '720px' },
  row: { display: 'flex', gap: tokens.spacingHorizontalM, alignItems: 'end', flexWrap: 'wrap' },
});

/** R8–R10: a user's effective authority, and license changes previewed (dry run, with the R10 warning) before they are made. */
export default function UsersPage() {
  const { tenantId, abilities } = useTenant();
  const styles = useStyles();
  const [lookup, setLookup] = useState('');
  const [userId, setUserId] = useState<string>();
  return (
    <>
      <Title2 as="h2">Users and licenses</Title2>
      <Card className={styles.card}>
        <form
          className={styles.row}
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            setUserId(lookup.trim());
          }}
        >
          <Field label="User id">
            <Input value={lookup} onChange={(_, d) => setLookup(d.value)} />
          </Field>
          <Button type="submit" disabled={!lookup.trim()}>
            Open user
          </Button>
        </form>
      </Card>
      {userId && <UserCard tenantId={tenantId} userId={userId} canChange={abilities.administer} />}
      {abilities.administer && <Directory tenantId={tenantId} onCreated={setUserId} />}
    </>
  );
}

function UserCard({ tenantId, userId, canChange }: { tenantId: string; userId: string; canChange: boolean }) {
  const styles = useStyles();
  const queryClient = useQueryClient();
  const [sku, setSku] = useState(skus[0]);
  const key = ['user', tenantId, userId];
  const path = { path: { tenantId, userId } };
  const user = useQuery({ queryKey: key, queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/users/{userId}', { params: path })) });
  const license = useMutation({
    mutationFn: (dryRun: boolean) => call(api.POST('/api/v1/tenants/{tenantId}/users/{userId}/licenses', { params: path, body: { sku, dryRun } })),
    onSuccess: (_, dryRun) => !dryRun && queryClient.invalidateQueries({ queryKey: key }),
  });
  const remove = useMutation({
    mutationFn: (removed: string) => call(api.DELETE('/api/v1/tenants/{tenantId}/users/{userId}/licenses/{sku}', { params: { path: { ...path.path, sku: removed } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: key }),
  });
  if (user.isError) return <ErrorBar error={user.error} />;
  if (!user.data) return null;
  const u = user.data;
  const outcome = license.data;
  return (
    <Card className={styles.card}>
      <Title3 as="h3">{u.userPrincipalName}</Title3>
      <Text data-testid="effective-authority">Effective authority: {u.effectiveAuthority ?? 'none (cannot enroll)'}</Text>
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
              <Dropdown
                value={sku}
                selectedOptions={[sku]}
                onOptionSelect={(_, d) => {
                  license.reset();
                  setSku(d.optionValue!);
                }}
              >
                {skus.map((s) => (
                  <Option key={s}>{s}</Option>
                ))}
              </Dropdown>
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
              {license.variables ? 'Preview' : 'Assigned'}: {outcome.previousAuthority ?? 'none'} → {outcome.effectiveAuthority ?? 'none'}
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

/** Groups and users are created here; the API has no list of them, so a created user opens at once. */
function Directory({ tenantId, onCreated }: { tenantId: string; onCreated(userId: string): void }) {
  const styles = useStyles();
  const [groupName, setGroupName] = useState('');
  const [upn, setUpn] = useState('');
  const [groupIds, setGroupIds] = useState('');
  const group = useMutation({ mutationFn: () => call(api.POST('/api/v1/tenants/{tenantId}/groups', { params: { path: { tenantId } }, body: { name: groupName } })) });
  const user = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/tenants/{tenantId}/users', {
          params: { path: { tenantId } },
          body: { userPrincipalName: upn, groupIds: groupIds.split(/[\s,]+/).filter(Boolean) },
        }),
      ),
    onSuccess: (created) => onCreated(created.userId),
  });
  return (
    <Card className={styles.card}>
      <Title3 as="h3">Directory</Title3>
      <div className={styles.row}>
        <Field label="Group name">
          <Input value={groupName} onChange={(_, d) => setGroupName(d.value)} />
        </Field>
        <Button onClick={() => group.mutate()} disabled={!groupName || group.isPending}>
          Create group
        </Button>
      </div>
      {group.data && <Text>Group {group.data.name}: {group.data.groupId}</Text>}
      <ErrorBar error={group.error} />
      <div className={styles.row}>
        <Field label="User principal name">
          <Input value={upn} onChange={(_, d) => setUpn(d.value)} />
        </Field>
        <Field label="Group ids">
          <Input value={groupIds} onChange={(_, d) => setGroupIds(d.value)} />
        </Field>
        <Button onClick={() => user.mutate()} disabled={!upn || user.isPending}>
          Create user
        </Button>
      </div>
      <ErrorBar error={user.error} />
    </Card>
  );
}

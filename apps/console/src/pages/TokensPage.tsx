import { useState } from 'react';
import { Button, Card, Field, Title2, Title3 } from '@fluentui/react-components';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { Choice } from '../components/Choice';
import { DataTable } from '../components/DataTable';
import { ErrorBar } from '../components/ErrorBar';
import { useLayoutStyles } from '../components/layout';
import { Pager, usePagedQuery } from '../components/Pager';
import { ShownOnce } from '../components/ShownOnce';
import { dateTime } from '../format';
import { Role } from '../session/abilities';
import { useSession, useTenant } from '../session/session';

const roles: { role: Role; meaning: string }[] = [
  { role: 'admin', meaning: 'admin: everything in the tenant' },
  { role: 'helpdesk', meaning: 'helpdesk: read, remote actions' },
  { role: 'reader', meaning: 'reader: read only' },
  { role: 'enroller', meaning: 'enroller: enrollment only' },
];

/** The tenant's tokens: issue one with a role (shown once), list the live ones, revoke one (it stops working at once). */
export default function TokensPage() {
  const { tenantId } = useTenant();
  const { session } = useSession();
  const styles = useLayoutStyles();
  const queryClient = useQueryClient();
  const [role, setRole] = useState<Role>('reader');
  const { pages, page: list } = usePagedQuery(['tokens', tenantId], (cursor) =>
    call(api.GET('/api/v1/tenants/{tenantId}/tokens', { params: { path: { tenantId }, query: { limit: 50, ...cursor } } })),
  );
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['tokens', tenantId] });
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/tenants/{tenantId}/tokens', { params: { path: { tenantId } }, body: { role } })),
    onSuccess: refresh,
  });
  const revoke = useMutation({
    mutationFn: (tokenId: string) => call(api.DELETE('/api/v1/tenants/{tenantId}/tokens/{tokenId}', { params: { path: { tenantId, tokenId } } })),
    onSuccess: refresh,
  });
  const own = session?.kind === 'tenant' ? session.tokenId : undefined;
  return (
    <>
      <Title2 as="h2">Tokens</Title2>
      <Card className={styles.card}>
        <Title3 as="h3">Issue a token</Title3>
        <Field label="Role">
          <Choice value={role} options={roles.map((r) => r.role)} text={(option) => roles.find((r) => r.role === option)!.meaning} onChange={setRole} />
        </Field>
        <Button appearance="primary" onClick={() => create.mutate()} disabled={create.isPending}>
          Issue {role} token
        </Button>
        <ErrorBar error={create.error} />
        {create.data && <ShownOnce title={`New ${create.data.role} token (id ${create.data.tokenId})`} secret={create.data.token} testId="new-token" />}
      </Card>
      <Card className={styles.card}>
        <Title3 as="h3">Live tokens</Title3>
        <ErrorBar error={list.error ?? revoke.error} />
        <DataTable
          label="Live tokens"
          rows={list.data?.items ?? []}
          rowKey={(t) => t.tokenId}
          rowTestId="token-row"
          columns={[
            { header: 'Token id', cell: (t) => t.tokenId },
            { header: 'Role', cell: (t) => t.role },
            { header: 'Issued', cell: (t) => dateTime(t.createdAt) },
            {
              header: 'Revoke',
              cell: (t) =>
                t.tokenId === own ? (
                  'this session'
                ) : (
                  <Button size="small" onClick={() => revoke.mutate(t.tokenId)} disabled={revoke.isPending}>
                    Revoke {t.role} token {t.tokenId.slice(0, 8)}
                  </Button>
                ),
            },
          ]}
        />
        <Pager pages={pages} nextCursor={list.data?.nextCursor} />
      </Card>
    </>
  );
}

import { useState, type FormEvent } from 'react';
import { Badge, Button, Card, Field, Input, Spinner, Title2, Title3 } from '@fluentui/react-components';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { DataTable } from '../components/DataTable';
import { ErrorBar } from '../components/ErrorBar';
import { useLayoutStyles } from '../components/layout';
import { Pager, usePagedQuery } from '../components/Pager';
import { ShownOnce } from '../components/ShownOnce';
import { dateTime } from '../format';
import { useSession } from '../session/session';

/** The operator's page: every tenant with its authority (a page at a time), and a new tenant (authority unknown, R1) with its first admin token. */
export default function TenantsPage() {
  const styles = useLayoutStyles();
  const { signIn } = useSession();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const { pages, page } = usePagedQuery(['tenants'], (cursor) => call(api.GET('/api/v1/tenants', { params: { query: { limit: 50, ...cursor } } })));
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/tenants', { body: { name } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['tenants'] }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <>
      <Title2 as="h2">Tenants</Title2>
      <Card className={styles.card}>
        <form onSubmit={submit} className={styles.card} aria-label="New tenant">
          <Field label="Tenant name" required>
            <Input value={name} onChange={(_, d) => setName(d.value)} />
          </Field>
          <Button appearance="primary" type="submit" disabled={create.isPending || name.trim() === ''}>
            Create tenant
          </Button>
        </form>
        <ErrorBar error={create.error} />
        {create.data && (
          <>
            <ShownOnce title={`${create.data.name} (${create.data.tenantId}): admin token`} secret={create.data.adminToken} testId="admin-token" />
            <Button onClick={() => void signIn(create.data.adminToken)}>Sign in as {create.data.name}'s admin</Button>
          </>
        )}
      </Card>
      <Card className={styles.card}>
        <Title3 as="h3">All tenants</Title3>
        <ErrorBar error={page.error} />
        {page.isPending ? (
          <Spinner label="Loading tenants…" />
        ) : (
          <DataTable
            label="Tenants"
            rows={page.data?.items ?? []}
            rowKey={(t) => t.tenantId}
            rowTestId="tenant-row"
            columns={[
              { header: 'Name', cell: (t) => t.name },
              { header: 'Tenant id', cell: (t) => t.tenantId },
              {
                header: 'MDM authority',
                cell: (t) => (t.bannerVisible ? <Badge color="warning">{t.authority}</Badge> : t.authority),
              },
              { header: 'Created', cell: (t) => dateTime(t.createdAt) },
            ]}
          />
        )}
        <Pager pages={pages} nextCursor={page.data?.nextCursor} />
      </Card>
    </>
  );
}

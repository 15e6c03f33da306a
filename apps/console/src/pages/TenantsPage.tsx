import { useState, type FormEvent } from 'react';
import { Button, Card, Field, Input, Title2, makeStyles, tokens } from '@fluentui/react-components';
import { useMutation } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { ErrorBar } from '../components/ErrorBar';
import { ShownOnce } from '../components/ShownOnce';
import { useSession } from '../session/session';

const useStyles = makeStyles({
  card: { padding: tokens.spacingHorizontalL, display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM, maxWidth: '640px' },
});

/** The operator's page: create a tenant (its authority starts unknown, R1) and hand over its first admin token. */
export default function TenantsPage() {
  const styles = useStyles();
  const { signIn } = useSession();
  const [name, setName] = useState('');
  const create = useMutation({ mutationFn: () => call(api.POST('/api/v1/tenants', { body: { name } })) });
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
    </>
  );
}

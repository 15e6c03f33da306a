import { useState } from 'react';
import { Button, Card, Dropdown, Field, Input, MessageBar, MessageBarBody, Option, Title2, Title3, makeStyles, tokens } from '@fluentui/react-components';
import { useMutation } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { ErrorBar } from '../components/ErrorBar';
import { ShownOnce } from '../components/ShownOnce';
import { Role } from '../session/abilities';
import { useTenant } from '../session/session';

const roles: { role: Role; meaning: string }[] = [
  { role: 'admin', meaning: 'admin: everything in the tenant' },
  { role: 'helpdesk', meaning: 'helpdesk: read, remote actions' },
  { role: 'reader', meaning: 'reader: read only' },
  { role: 'enroller', meaning: 'enroller: enrollment only' },
];

const useStyles = makeStyles({
  card: { padding: tokens.spacingHorizontalL, display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM, maxWidth: '640px' },
});

/** The tenant's tokens: issue one with a role (shown once), revoke one by id (it stops working at once). */
export default function TokensPage() {
  const { tenantId } = useTenant();
  const styles = useStyles();
  const [role, setRole] = useState<Role>('reader');
  const [revokeId, setRevokeId] = useState('');
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/tenants/{tenantId}/tokens', { params: { path: { tenantId } }, body: { role } })),
  });
  const revoke = useMutation({
    mutationFn: (tokenId: string) => call(api.DELETE('/api/v1/tenants/{tenantId}/tokens/{tokenId}', { params: { path: { tenantId, tokenId } } })),
    onSuccess: () => setRevokeId(''),
  });
  return (
    <>
      <Title2 as="h2">Tokens</Title2>
      <Card className={styles.card}>
        <Title3 as="h3">Issue a token</Title3>
        <Field label="Role">
          <Dropdown value={roles.find((r) => r.role === role)?.meaning} selectedOptions={[role]} onOptionSelect={(_, d) => setRole(d.optionValue as Role)}>
            {roles.map((r) => (
              <Option key={r.role} value={r.role}>
                {r.meaning}
              </Option>
            ))}
          </Dropdown>
        </Field>
        <Button appearance="primary" onClick={() => create.mutate()} disabled={create.isPending}>
          Issue {role} token
        </Button>
        <ErrorBar error={create.error} />
        {create.data && (
          <>
            <ShownOnce title={`New ${create.data.role} token (id ${create.data.tokenId})`} secret={create.data.token} testId="new-token" />
          </>
        )}
      </Card>
      <Card className={styles.card}>
        <Title3 as="h3">Revoke a token</Title3>
        <Field label="Token id">
          <Input value={revokeId} onChange={(_, d) => setRevokeId(d.value)} />
        </Field>
        <Button onClick={() => revoke.mutate(revokeId.trim())} disabled={revoke.isPending || revokeId.trim() === ''}>
          Revoke token
        </Button>
        <ErrorBar error={revoke.error} title="Not revoked" />
        {revoke.isSuccess && (
          <MessageBar intent="success">
            <MessageBarBody>Revoked: it no longer works.</MessageBarBody>
          </MessageBar>
        )}
      </Card>
    </>
  );
}

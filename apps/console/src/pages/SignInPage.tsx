import { useState, type FormEvent } from 'react';
import { Button, Card, CardHeader, Field, Input, Text, Title2, makeStyles, tokens } from '@fluentui/react-components';
import { ErrorBar } from '../components/ErrorBar';
import { useSession } from '../session/session';

const useStyles = makeStyles({
  page: { display: 'grid', placeItems: 'center', minHeight: '100vh', backgroundColor: tokens.colorNeutralBackground2 },
  card: { width: '420px', padding: tokens.spacingHorizontalXL },
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
});

/** Sign-in with an operator or tenant token; it is kept in this tab's session storage only. */
export function SignInPage() {
  const { signIn } = useSession();
  const styles = useStyles();
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(token.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className={styles.page}>
      <Card className={styles.card}>
        <CardHeader header={<Title2 as="h1">MDM authority console</Title2>} description={<Text>Sign in with an operator or tenant token.</Text>} />
        <form className={styles.form} onSubmit={submit}>
          <Field label="Token" required hint="Kept in this browser tab only; closing the tab signs you out.">
            <Input type="password" value={token} onChange={(_, d) => setToken(d.value)} autoComplete="off" />
          </Field>
          <ErrorBar error={error} title="Sign-in failed" />
          <Button appearance="primary" type="submit" disabled={busy || token.trim() === ''}>
            Sign in
          </Button>
        </form>
      </Card>
    </main>
  );
}

import type { ReactNode } from 'react';
import { Card, CardHeader, Title3, makeStyles, tokens } from '@fluentui/react-components';

const useStyles = makeStyles({
  panel: { padding: tokens.spacingHorizontalL, display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
});

/** A titled card of a page (status, dashboard, device): the console's one shape for a section. */
export function Panel({ title, description, children }: { title: ReactNode; description?: string; children?: ReactNode }) {
  const styles = useStyles();
  return (
    <Card className={styles.panel}>
      <CardHeader header={<Title3 as="h3">{title}</Title3>} description={description} />
      {children}
    </Card>
  );
}

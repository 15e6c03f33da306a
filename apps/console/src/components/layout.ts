import { makeStyles, tokens } from '@fluentui/react-components';

/** The console's shared layout: a card of stacked fields and a row of controls aligned on their baseline. */
export const useLayoutStyles = makeStyles({
  card: { padding: tokens.spacingHorizontalL, display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM, maxWidth: '960px' },
  row: { display: 'flex', gap: tokens.spacingHorizontalM, alignItems: 'end', flexWrap: 'wrap' },
});

import { useState } from 'react';
import { Button, Text, Toolbar } from '@fluentui/react-components';

/**
 * Cursor paging (API.md "Lists"): the cursors of the pages before this one are kept, so "Previous"
 * goes back although the API only pages forward.
 */
export function useCursorPages() {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  return {
    cursor: cursors[cursors.length - 1],
    number: cursors.length,
    next: (cursor: string) => setCursors((c) => [...c, cursor]),
    previous: () => setCursors((c) => c.slice(0, -1)),
    reset: () => setCursors([undefined]),
  };
}

export function Pager({ pages, nextCursor }: { pages: ReturnType<typeof useCursorPages>; nextCursor: string | null | undefined }) {
  return (
    <Toolbar aria-label="Pages">
      <Button disabled={pages.number === 1} onClick={pages.previous}>
        Previous page
      </Button>
      <Text>Page {pages.number}</Text>
      <Button disabled={!nextCursor} onClick={() => nextCursor && pages.next(nextCursor)}>
        Next page
      </Button>
    </Toolbar>
  );
}

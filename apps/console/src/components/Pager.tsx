import { useState } from 'react';
import { Button, Text, Toolbar } from '@fluentui/react-components';
import { useQuery } from '@tanstack/react-query';

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

export type CursorPages = ReturnType<typeof useCursorPages>;

/**
 * One page of a list call (`{ items, nextCursor }`), asked again with the page's cursor; the previous
 * rows stay on screen while the next ones load (another page, a refined search). `key` names the list
 * and what it is filtered by. `listOf` names what the rows are a list of, where the page says so (a
 * group's members, an authority's configurations): when it changes, the rows go at once, so that no
 * list is ever shown under another one's name.
 */
export function usePagedQuery<T extends { nextCursor?: string | null }>(
  key: readonly unknown[],
  fetchPage: (cursor: { cursor?: string }) => Promise<T>,
  options: { refetchInterval?: number; enabled?: boolean; listOf?: readonly unknown[] } = {},
) {
  const pages = useCursorPages();
  const { cursor } = pages;
  const { listOf, ...query } = options;
  const list = JSON.stringify(listOf ?? null);
  const page = useQuery({
    queryKey: [...key, cursor],
    queryFn: () => fetchPage(cursor ? { cursor } : {}),
    meta: { list },
    placeholderData: (previous, previousQuery) => (previousQuery?.meta?.list === list ? previous : undefined),
    ...query,
  });
  return { pages, page };
}

export function Pager({ pages, nextCursor }: { pages: CursorPages; nextCursor: string | null | undefined }) {
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

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
 * page stays on screen while the next one loads. `key` names the list and what it is filtered by: a
 * page of another filter is not kept (a group's members are never shown under another group's name).
 */
export function usePagedQuery<T extends { nextCursor?: string | null }>(
  key: readonly unknown[],
  fetchPage: (cursor: { cursor?: string }) => Promise<T>,
  options: { refetchInterval?: number; enabled?: boolean } = {},
) {
  const pages = useCursorPages();
  const { cursor } = pages;
  const page = useQuery({
    queryKey: [...key, cursor],
    queryFn: () => fetchPage(cursor ? { cursor } : {}),
    placeholderData: (previous, previousQuery) => (previousQuery && sameList(previousQuery.queryKey, key) ? previous : undefined),
    ...options,
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

/** Whether a query's key (the list's key and a cursor) names the same list, filtered the same way, as `key`. */
function sameList(queryKey: readonly unknown[], key: readonly unknown[]): boolean {
  return JSON.stringify(queryKey.slice(0, -1)) === JSON.stringify(key);
}

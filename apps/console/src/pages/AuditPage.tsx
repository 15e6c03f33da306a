import { Spinner, Table, TableBody, TableCell, TableHeader, TableHeaderCell, TableRow, Title2 } from '@fluentui/react-components';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { ErrorBar } from '../components/ErrorBar';
import { Pager, useCursorPages } from '../components/Pager';
import { dateTime } from '../format';
import { useTenant } from '../session/session';

/** The tenant's admin commands, allowed or refused, newest first, a page at a time. */
export default function AuditPage() {
  const { tenantId } = useTenant();
  const pages = useCursorPages();
  const { cursor } = pages;
  const page = useQuery({
    queryKey: ['audit', tenantId, cursor],
    queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/audit', { params: { path: { tenantId }, query: { limit: 50, ...(cursor && { cursor }) } } })),
    placeholderData: keepPreviousData,
  });
  return (
    <>
      <Title2 as="h2">Audit log</Title2>
      <ErrorBar error={page.error} />
      {page.isPending ? (
        <Spinner />
      ) : (
        page.data && (
          <Table size="small" aria-label="Audit log">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>When</TableHeaderCell>
                <TableHeaderCell>Actor</TableHeaderCell>
                <TableHeaderCell>Action</TableHeaderCell>
                <TableHeaderCell>Target</TableHeaderCell>
                <TableHeaderCell>Outcome</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {page.data.items.map((e, i) => (
                <TableRow key={`${e.at}-${i}`}>
                  <TableCell>{dateTime(e.at)}</TableCell>
                  <TableCell>{e.actor}</TableCell>
                  <TableCell>{e.action}</TableCell>
                  <TableCell>{e.target}</TableCell>
                  <TableCell>{e.outcome}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )
      )}
      <Pager pages={pages} nextCursor={page.data?.nextCursor} />
    </>
  );
}

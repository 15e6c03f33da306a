import { Spinner, Title2 } from '@fluentui/react-components';
import { api, call } from '../api/client';
import { DataTable } from '../components/DataTable';
import { ErrorBar } from '../components/ErrorBar';
import { Pager, usePagedQuery } from '../components/Pager';
import { dateTime } from '../format';
import { useTenant } from '../session/session';

/** The tenant's admin commands, allowed or refused, newest first, a page at a time. */
export default function AuditPage() {
  const { tenantId } = useTenant();
  const { pages, page } = usePagedQuery(['audit', tenantId], (cursor) =>
    call(api.GET('/api/v1/tenants/{tenantId}/audit', { params: { path: { tenantId }, query: { limit: 50, ...cursor } } })),
  );
  return (
    <>
      <Title2 as="h2">Audit log</Title2>
      <ErrorBar error={page.error} />
      {page.isPending ? (
        <Spinner />
      ) : (
        page.data && (
          <DataTable
            label="Audit log"
            rows={page.data.items}
            rowKey={(e, i) => `${e.at}-${i}`}
            columns={[
              { header: 'When', cell: (e) => dateTime(e.at) },
              { header: 'Actor', cell: (e) => e.actor },
              { header: 'Action', cell: (e) => e.action },
              { header: 'Target', cell: (e) => e.target },
              { header: 'Outcome', cell: (e) => e.outcome },
            ]}
          />
        )
      )}
      <Pager pages={pages} nextCursor={page.data?.nextCursor} />
    </>
  );
}

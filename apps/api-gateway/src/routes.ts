import { z } from 'zod';
import { authorityOperations, createTenantBody, registerTenantOperation } from '@mdm/contracts/authority';
import { DomainError, HttpOperation, Role } from '@mdm/contracts/core';
import { deviceSyncOperations } from '@mdm/contracts/device-sync';
import { enrollmentOperations } from '@mdm/contracts/enrollment';
import { licensingOperations } from '@mdm/contracts/licensing';
import { projectionOperations } from '@mdm/contracts/projection';
import { ServiceRuntime } from '@mdm/platform/http';
import { CallSigner, ServiceAnswer, callService } from '@mdm/platform/http-client';
import { Tokens } from './access/tokens';
import { AuditLog } from './audit';
import { advanceClockBody, createTokenBody, gatewayOperations, pageQuery } from './gateway.operations';
import { openApiDocument } from './openapi';
import { RouteTable } from './routing/route-table';

export interface GatewayDeps {
  runtime: ServiceRuntime;
  tokens: Tokens;
  audit: AuditLog;
  serviceUrls: { authority: string; licensing: string; enrollment: string; deviceSync: string; projection: string };
}

const proxied = (upstream: string) => (operation: HttpOperation) => ({ operation, upstream });

/** Every call of the public contract, and who answers it. */
export function buildRouteTable({ runtime, tokens, audit, serviceUrls }: GatewayDeps): RouteTable {
  const table = new RouteTable();
  const ops = gatewayOperations;

  table.add({
    operation: ops.createTenant,
    handle: async ({ body }) => {
      const tenantId = crypto.randomUUID();
      const { name } = body as z.infer<typeof createTenantBody>;
      const created = await postJson(runtime.signer, `${serviceUrls.authority}${registerTenantOperation.path}`, { tenantId, name }, 'operator');
      const { token } = await tokens.issue(tenantId, 'admin', 'operator');
      return { status: 201, body: { tenantId, name: (created as { name: string }).name, adminToken: token } };
    },
  });
  table.add({
    operation: ops.createToken,
    handle: async ({ params, body, principal }) => {
      const issued = await tokens.issue(
        params.tenantId,
        (body as z.infer<typeof createTokenBody>).role as Role,
        principal?.kind === 'tenant' ? `token:${principal.tokenId}` : 'operator',
      );
      return { status: 201, body: issued };
    },
  });
  table.add({
    operation: ops.revokeToken,
    handle: async ({ params, principal }) => {
      await tokens.revoke(params.tenantId, params.tokenId, principal?.kind === 'tenant' ? `token:${principal.tokenId}` : 'operator');
      return { status: 204 };
    },
  });
  table.add({
    operation: ops.listAudit,
    handle: async ({ params, query }) => {
      const { limit, cursor } = query as z.infer<typeof pageQuery>;
      return { status: 200, body: await audit.page(params.tenantId, limit, cursor) };
    },
  });
  table.add({ operation: ops.getClock, handle: async () => ({ status: 200, body: { now: runtime.clock.now().toISOString() } }) });
  table.add({
    operation: ops.advanceClock,
    handle: async ({ body }) => {
      const clock = runtime.testClock;
      if (!clock) throw new DomainError(409, 'TEST_CLOCK_DISABLED', 'the clock can be advanced only when the stack runs with MDM_TEST_CLOCK=1');
      await clock.advance((body as z.infer<typeof advanceClockBody>).seconds);
      // Each service adopts the new time and runs its due sweeps before the call answers.
      await Promise.all(Object.values(serviceUrls).map((url) => postJson(runtime.signer, `${url}/internal/clock/sync`, {}, 'operator')));
      await runtime.runSweeps();
      return { status: 200, body: { now: clock.now().toISOString() } };
    },
  });

  for (const [url, operations] of [
    [serviceUrls.authority, authorityOperations],
    [serviceUrls.licensing, licensingOperations],
    [serviceUrls.enrollment, enrollmentOperations],
    [serviceUrls.deviceSync, deviceSyncOperations],
    [serviceUrls.projection, projectionOperations],
  ] as const) {
    operations.map(proxied(url)).forEach((r) => table.add(r));
  }
  table.add({
    operation: { ...ops.getClock, id: 'openApi', path: '/api/v1/openapi.json', summary: 'This document' },
    handle: async () => ({ status: 200, body: openApiDocument(table.operations()) }),
  });
  return table;
}

/** A call of the gateway's own to a service, signed as the gateway's on behalf of `actor`. */
async function postJson(signer: CallSigner, url: string, body: unknown, actor: string): Promise<unknown> {
  let answer: ServiceAnswer;
  try {
    answer = await callService(url, { method: 'POST', body, signer, actor });
  } catch (err) {
    throw new DomainError(503, 'SERVICE_UNAVAILABLE', `${new URL(url).host} is unreachable`, { cause: (err as Error).message });
  }
  if (!answer.ok) {
    const { code, message } = (answer.body ?? {}) as { code?: string; message?: string };
    throw new DomainError(503, 'SERVICE_UNAVAILABLE', `${url} answered ${answer.status}: ${code ?? ''} ${message ?? ''}`);
  }
  return answer.body;
}

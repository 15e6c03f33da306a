import { z } from 'zod';
import { authorityOperations, createTenantBody, registerTenantOperation } from '@mdm/contracts/authority';
import { DomainError, HttpOperation, Role } from '@mdm/contracts/core';
import { deviceSyncOperations } from '@mdm/contracts/device-sync';
import { enrollmentOperations } from '@mdm/contracts/enrollment';
import { licensingOperations } from '@mdm/contracts/licensing';
import { projectionOperations } from '@mdm/contracts/projection';
import type { ServiceRuntime } from '@mdm/platform/http';
import { CallSigner, ServiceAnswer, callService } from '@mdm/platform/http-client';
import { Tokens } from './access/tokens';
import { AuditLog } from './audit';
import { advanceClockBody, createTokenBody, gatewayOperations, pageQuery } from './gateway.operations';
import { openApiDocument } from './openapi';
import { GatewayRoute, RouteTable } from './routing/route-table';
import { UpstreamPool } from './routing/upstream-pool';

export interface GatewayDeps {
  /** The runtime's parts the gateway's own operations use (the signer for its calls, the clocks, the sweeps the test clock runs). */
  runtime: Pick<ServiceRuntime, 'signer' | 'clock' | 'testClock' | 'sweeps'>;
  tokens: Tokens;
  audit: AuditLog;
  upstreams: Record<'authority' | 'licensing' | 'enrollment' | 'deviceSync' | 'projection', UpstreamPool>;
}

type Handler = GatewayRoute['handle'];

/** The services' operations, each with the service that answers it. */
const serviceOperations = [
  ['authority', authorityOperations],
  ['licensing', licensingOperations],
  ['enrollment', enrollmentOperations],
  ['deviceSync', deviceSyncOperations],
  ['projection', projectionOperations],
] as const;

const openApiOperation: HttpOperation = { ...gatewayOperations.getClock, id: 'openApi', path: '/api/v1/openapi.json', summary: 'This document' };

/** Every operation of the public contract, in the order the route table matches them. */
export function publicOperations(): HttpOperation[] {
  return [...Object.values(gatewayOperations), ...serviceOperations.flatMap(([, operations]) => operations), openApiOperation];
}

/** Every call of the public contract, and who answers it. */
export function buildRouteTable({ runtime, tokens, audit, upstreams }: GatewayDeps): RouteTable {
  // One handler per operation the gateway answers itself: a new one without a handler does not compile.
  const handlers: Record<keyof typeof gatewayOperations, Handler> = {
    getSession: async ({ principal }) => {
      if (!principal) throw new DomainError('UNAUTHORIZED', 'a bearer token is required');
      return { status: 200, body: principal };
    },
    createTenant: async ({ body }) => {
      const tenantId = crypto.randomUUID();
      const { name } = body as z.infer<typeof createTenantBody>;
      const created = await postJson(runtime.signer, `${upstreams.authority.pick()}${registerTenantOperation.path}`, { tenantId, name }, 'operator');
      const { token } = await tokens.issue(tenantId, 'admin', 'operator');
      return { status: 201, body: { tenantId, name: (created as { name: string }).name, adminToken: token } };
    },
    createToken: async ({ params, body, principal }) => {
      const issued = await tokens.issue(
        params.tenantId,
        (body as z.infer<typeof createTokenBody>).role as Role,
        principal?.kind === 'tenant' ? `token:${principal.tokenId}` : 'operator',
      );
      return { status: 201, body: issued };
    },
    listTokens: async ({ params, query }) => {
      const { limit, cursor } = query as z.infer<typeof pageQuery>;
      return { status: 200, body: await tokens.list(params.tenantId, limit, cursor) };
    },
    revokeToken: async ({ params, principal }) => {
      await tokens.revoke(params.tenantId, params.tokenId, principal?.kind === 'tenant' ? `token:${principal.tokenId}` : 'operator');
      return { status: 204 };
    },
    listAudit: async ({ params, query }) => {
      const { limit, cursor } = query as z.infer<typeof pageQuery>;
      return { status: 200, body: await audit.page(params.tenantId, limit, cursor) };
    },
    getClock: async () => ({ status: 200, body: { now: runtime.clock.now().toISOString() } }),
    advanceClock: async ({ body }) => {
      const clock = runtime.testClock;
      if (!clock) throw new DomainError('TEST_CLOCK_DISABLED', 'the clock can be advanced only when the stack runs with MDM_TEST_CLOCK=1');
      await clock.advance((body as z.infer<typeof advanceClockBody>).seconds);
      // Each instance of each service adopts the new time and runs its due sweeps before the call answers.
      const instances = Object.values(upstreams).flatMap((pool) => pool.urls);
      await Promise.all(instances.map((url) => postJson(runtime.signer, `${url}/internal/clock/sync`, {}, 'operator')));
      await runtime.sweeps.run();
      return { status: 200, body: { now: clock.now().toISOString() } };
    },
  };

  const table = new RouteTable();
  for (const [name, operation] of Object.entries(gatewayOperations)) {
    table.add({ operation, handle: handlers[name as keyof typeof gatewayOperations] });
  }
  for (const [service, operations] of serviceOperations) {
    for (const operation of operations) table.add({ operation, upstream: upstreams[service] });
  }
  table.add({ operation: openApiOperation, handle: async () => ({ status: 200, body: openApiDocument(table.operations()) }) });
  return table;
}

/** A call of the gateway's own to a service, signed as the gateway's on behalf of `actor`. */
async function postJson(signer: CallSigner, url: string, body: unknown, actor: string): Promise<unknown> {
  let answer: ServiceAnswer;
  try {
    answer = await callService(url, { method: 'POST', body, signer, actor });
  } catch (err) {
    throw new DomainError('SERVICE_UNAVAILABLE', `${new URL(url).host} is unreachable`, { cause: (err as Error).message });
  }
  if (!answer.ok) {
    const { code, message } = (answer.body ?? {}) as { code?: string; message?: string };
    throw new DomainError('SERVICE_UNAVAILABLE', `${url} answered ${answer.status}: ${code ?? ''} ${message ?? ''}`);
  }
  return answer.body;
}

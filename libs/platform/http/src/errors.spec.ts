import { DomainError, conflict, notFound, ruleViolation } from '@mdm/contracts/core';
import type { AddressInfo } from 'node:net';
import express, { json } from 'express';
import { createLogger } from '@mdm/platform/logging';
import { bodyErrorHandler, toErrorResponse } from './errors';

const logger = createLogger('test', 'silent');

describe('a refusal is answered with its code, at the status the one table gives that code', () => {
  it('the answer carries the code, the message and the details; the status is the code’s', () => {
    expect(toErrorResponse(ruleViolation('CONSENT_REQUIRED', 'grant the consent first', { platform: 'ios' }), logger)).toEqual({
      status: 422,
      body: { code: 'CONSENT_REQUIRED', message: 'grant the consent first', details: { platform: 'ios' } },
    });
    expect(toErrorResponse(conflict('USER_EXISTS', 'taken'), logger).status).toBe(409);
    expect(toErrorResponse(notFound('tenant'), logger)).toEqual({ status: 404, body: { code: 'NOT_FOUND', message: 'tenant not found' } });
  });

  it('the statuses API.md gives the codes', () => {
    const contract = { VALIDATION_FAILED: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, PAYLOAD_TOO_LARGE: 413, CO_MANAGEMENT_REQUIRES_INTUNE: 422, TOO_MANY_FAILURES: 429, DEPENDENCY_LAGGING: 503 } as const;
    for (const [code, status] of Object.entries(contract) as [keyof typeof contract, number][]) {
      expect([code, toErrorResponse(new DomainError(code, 'm'), logger).status]).toEqual([code, status]);
    }
  });

  it('a refusal thrown while the body is read (the signed-body check) is answered with its code and status', async () => {
    // The body parser passes such an error through http-errors, which writes its `status`.
    const app = express();
    app.use(json({ verify: () => { throw new DomainError('UNAUTHENTICATED', 'signed for another body'); } }));
    app.use(bodyErrorHandler(logger));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((ok) => server.once('listening', ok));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(3_000) });
      expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([401, 'UNAUTHENTICATED']);
    } finally {
      server.close();
    }
  });
});

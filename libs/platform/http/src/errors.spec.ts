import { DomainError, conflict, notFound, ruleViolation } from '@mdm/contracts/core';
import { createLogger } from '@mdm/platform/logging';
import { toErrorResponse } from './errors';

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

  it('the statuses API.md gives the codes, whichever way the error was made', () => {
    const contract = { VALIDATION_FAILED: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, PAYLOAD_TOO_LARGE: 413, CO_MANAGEMENT_REQUIRES_INTUNE: 422, TOO_MANY_FAILURES: 429, DEPENDENCY_LAGGING: 503 } as const;
    for (const [code, status] of Object.entries(contract) as [keyof typeof contract, number][]) {
      expect([code, toErrorResponse(new DomainError(code, 'm'), logger).status]).toEqual([code, status]);
    }
    // The status a caller still passes (the deprecated form) is not what decides.
    expect(toErrorResponse(new DomainError(400, 'FORBIDDEN', 'm'), logger).status).toBe(403);
  });
});

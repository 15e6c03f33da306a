/**
 * A refusal the API reports as `{ code, message, details? }` (API.md "Conventions").
 * Domain code throws these; the HTTP layer maps them without knowing the rule behind them.
 */
export class DomainError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 503,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string) => new DomainError(404, 'NOT_FOUND', `${what} not found`);
export const ruleViolation = (code: string, message: string, details?: unknown) =>
  new DomainError(422, code, message, details);
export const conflict = (code: string, message: string, details?: unknown) => new DomainError(409, code, message, details);

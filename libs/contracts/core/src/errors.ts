/**
 * The status API.md gives each error code: the HTTP layer's mapping, in one table. A code is added
 * here with its status, and the compiler then lets code throw it.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ALREADY_ENROLLED: 409,
  CSR_REQUIRED: 409,
  GROUP_EXISTS: 409,
  REBUILD_RUNNING: 409,
  TENANT_EXISTS: 409,
  TEST_CLOCK_DISABLED: 409,
  USER_EXISTS: 409,
  VERSION_CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  APNS_CERTIFICATE_MISSING: 422,
  AUTHORITY_CANNOT_REVERT_TO_UNKNOWN: 422,
  CO_MANAGEMENT_REQUIRES_INTUNE: 422,
  CONSENT_REQUIRED: 422,
  INVALID_CERTIFICATE: 422,
  INVALID_CSR: 422,
  MDM_AUTHORITY_NOT_SET: 422,
  NO_MDM_LICENSE: 422,
  UNKNOWN_GROUP: 422,
  UNKNOWN_SKU: 422,
  TOO_MANY_FAILURES: 429,
  DEPENDENCY_LAGGING: 503,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];
/** The codes the contract answers with `status`. */
export type CodeWithStatus<S extends ErrorStatus> = { [K in ErrorCode]: (typeof ERROR_STATUS)[K] extends S ? K : never }[ErrorCode];

/**
 * A refusal the API reports as `{ code, message, details? }` (API.md "Conventions"). Domain code
 * throws it with the code, the fact of what went wrong; which HTTP status answers a code is the
 * HTTP layer's concern (`toErrorResponse`, from ERROR_STATUS).
 */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

export const notFound = (what: string) => new DomainError('NOT_FOUND', `${what} not found`);
export const ruleViolation = (code: CodeWithStatus<422>, message: string, details?: unknown) => new DomainError(code, message, details);
export const conflict = (code: CodeWithStatus<409>, message: string, details?: unknown) => new DomainError(code, message, details);

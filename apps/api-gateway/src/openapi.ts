import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { HttpOperation, errorBodySchema } from '@mdm/contracts/core';

/** The refusals any call may answer, each declared once in the document's components and referenced by every operation. */
const errorResponses = {
  400: ['ValidationFailed', 'VALIDATION_FAILED: malformed JSON, unknown fields, wrong types'],
  401: ['Unauthenticated', 'no or bad token'],
  403: ['Forbidden', 'role too weak'],
  404: ['NotFound', "unknown id, or another tenant's"],
  409: ['Conflict', 'conflict with the current state (VERSION_CONFLICT, ...)'],
  413: ['PayloadTooLarge', 'PAYLOAD_TOO_LARGE: body over 1 MiB'],
  422: ['Refused', 'refused by a rule (the R-codes)'],
};

let cached: { count: number; document: unknown } | undefined;

/** The OpenAPI document, generated from the same operation records the gateway routes by. */
export function openApiDocument(operations: HttpOperation[]): unknown {
  if (cached?.count === operations.length) return cached.document;
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  registry.register('Error', errorBodySchema);
  const errorBody = { $ref: '#/components/schemas/Error' };
  const errors = Object.fromEntries(
    Object.entries(errorResponses).map(([status, [name, description]]) => [
      status,
      registry.registerComponent('responses', name, { description, content: { 'application/json': { schema: errorBody } } }).ref,
    ]),
  );
  for (const op of operations) {
    const success = op.response
      ? { description: 'success', content: { 'application/json': { schema: op.response } } }
      : { description: 'success' };
    registry.registerPath({
      operationId: op.id,
      method: op.method.toLowerCase() as 'get',
      path: op.path.replace(/:(\w+)/g, '{$1}'),
      summary: op.summary,
      description: describeAccess(op.access),
      security: op.access === 'public' ? [] : [{ bearer: [] }],
      request: {
        ...(op.params && { params: op.params }),
        ...(op.query && { query: op.query }),
        ...(op.body && { body: { content: { 'application/json': { schema: op.body } } } }),
      },
      responses: { [op.successStatus]: success, ...errors },
    });
  }
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'MDM authority platform', version: '1' },
  });
  cached = { count: operations.length, document };
  return document;
}

function describeAccess(access: HttpOperation['access']): string {
  if (typeof access === 'string') return `Access: ${access}.`;
  return `Roles: ${access.join(', ')}.`;
}

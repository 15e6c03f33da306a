import { OpenAPIRegistry, OpenApiGeneratorV31, extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { featuresOf } from './gateway-client';

extendZodWithOpenApi(z);

/** An OpenAPI document as the gateway makes its own (zod-to-openapi), with the two bodies given. */
function documentWith(enroll: z.ZodTypeAny, checkIn: z.ZodTypeAny) {
  const registry = new OpenAPIRegistry();
  const body = (schema: z.ZodTypeAny) => ({ body: { content: { 'application/json': { schema } } } });
  registry.registerPath({ method: 'post', path: '/api/v1/tenants/{tenantId}/enrollments', request: body(enroll), responses: { 201: { description: 'ok' } } });
  registry.registerPath({ method: 'post', path: '/device/v1/check-in', request: body(checkIn), responses: { 200: { description: 'ok' } } });
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({ openapi: '3.1.0', info: { title: 't', version: '1' } });
}

const enrollV1 = z.object({ platform: z.string(), serialNumber: z.string() }).strict();
const checkInV1 = z.object({ state: z.object({ osVersion: z.string() }) }).strict();

describe('featuresOf: what the agent may send, read off the server OpenAPI document', () => {
  it('a server without csrPem in its bodies gets no CSR (it would refuse the unknown field with 400)', () => {
    expect(featuresOf(documentWith(enrollV1, checkInV1) as never)).toEqual({ enrollmentCsr: false, checkInCsr: false });
  });

  it('csrPem in the enrollment body (refined, as the enrollment contract is) and in the check-in body', () => {
    const enroll = enrollV1.extend({ csrPem: z.string().optional() }).superRefine(() => undefined);
    const checkIn = checkInV1.extend({ csrPem: z.string().optional() });
    expect(featuresOf(documentWith(enroll, checkInV1) as never)).toEqual({ enrollmentCsr: true, checkInCsr: false });
    expect(featuresOf(documentWith(enroll, checkIn) as never)).toEqual({ enrollmentCsr: true, checkInCsr: true });
  });

  it('follows $ref to registered component schemas', () => {
    const enroll = enrollV1.extend({ csrPem: z.string() }).openapi('EnrollBody');
    expect(featuresOf(documentWith(enroll, checkInV1) as never)).toEqual({ enrollmentCsr: true, checkInCsr: false });
  });

  it('an empty document offers nothing', () => {
    expect(featuresOf({})).toEqual({ enrollmentCsr: false, checkInCsr: false });
  });
});

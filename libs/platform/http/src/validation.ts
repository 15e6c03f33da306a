import { ArgumentMetadata, PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { DomainError } from '@mdm/contracts/core';

/** 400 VALIDATION_FAILED with every offending field path (API.md "Details that clients rely on"). */
export function validationFailed(error: z.ZodError, source: string): DomainError {
  const fields = error.issues.map((i) => ({
    path: [source, ...i.path].join('.'),
    message: i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message,
  }));
  return new DomainError('VALIDATION_FAILED', `invalid ${source}: ${fields.map((f) => f.path).join(', ')}`, {
    fields,
  });
}

export function parseOrThrow<S extends z.ZodTypeAny>(schema: S, value: unknown, source: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationFailed(parsed.error, source);
  return parsed.data;
}

/** `@Body(new ZodPipe(schema))`: parses with the contract's schema; unknown fields are refused. */
export class ZodPipe<S extends z.ZodTypeAny> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}
  transform(value: unknown, metadata: ArgumentMetadata): z.infer<S> {
    const source = metadata.type === 'custom' ? 'value' : metadata.type === 'param' ? 'params' : metadata.type;
    return parseOrThrow(this.schema, value ?? {}, source);
  }
}

/** Path parameters name resources: one that cannot exist (not a uuid, not an authority) is a 404. */
export function parsePath<S extends z.AnyZodObject>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const path = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new DomainError('NOT_FOUND', `no such resource (${path})`);
  }
  return parsed.data;
}

export class PathPipe<S extends z.AnyZodObject> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}
  transform(value: unknown): z.infer<S> {
    return parsePath(this.schema, value);
  }
}

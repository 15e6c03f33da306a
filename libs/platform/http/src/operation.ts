import { Delete, Get, HttpCode, Post, Put, applyDecorators } from '@nestjs/common';
import { HttpOperation } from '@mdm/contracts/core';

const route = { GET: Get, POST: Post, PUT: Put, DELETE: Delete } as const;

/**
 * A handler of the public contract: it is served at the method and path of the operation `id` and
 * answers its success status, taken from the contract's record rather than copied from it (the
 * gateway routes and the OpenAPI document read the same record). Use it in a `@Controller()` without
 * a path of its own. An id the contract does not declare fails when the controller's module loads.
 */
export function Serves(operations: readonly HttpOperation[], id: string): MethodDecorator {
  const op = operations.find((o) => o.id === id);
  if (!op) throw new Error(`no contract operation '${id}' among ${operations.map((o) => o.id).join(', ')}`);
  return applyDecorators(route[op.method](op.path), HttpCode(op.successStatus));
}

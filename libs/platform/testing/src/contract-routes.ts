import { RequestMethod, Type } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { HttpOperation } from '@mdm/contracts/core';

/** One route a Nest module serves: method, Express-style path and the status it answers with. */
export interface NestRoute {
  method: string;
  path: string;
  status: number;
  handler: string;
}

const join = (...parts: string[]) => `/${parts.flatMap((p) => p.split('/')).filter(Boolean).join('/')}`;

/** Every route of a module's controllers, as Nest registers them (controller path + handler path). */
export function nestRoutes(module: Type<unknown>): NestRoute[] {
  const controllers: Type<unknown>[] = Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, module) ?? [];
  return controllers.flatMap((controller) => {
    const base: string = Reflect.getMetadata(PATH_METADATA, controller) ?? '';
    const proto = controller.prototype as Record<string, unknown>;
    return Object.getOwnPropertyNames(proto).flatMap((name) => {
      const handler = proto[name];
      if (name === 'constructor' || typeof handler !== 'function' || Reflect.getMetadata(PATH_METADATA, handler) === undefined) return [];
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
      const paths: string | string[] = Reflect.getMetadata(PATH_METADATA, handler);
      const status = Reflect.getMetadata(HTTP_CODE_METADATA, handler) ?? (method === 'POST' ? 201 : 200);
      return [paths].flat().map((p) => ({ method, path: join(base, p), status, handler: `${controller.name}.${name}` }));
    });
  });
}

/**
 * Where a service's Nest routes and its contract's operations disagree: an operation no route
 * serves (or serves with another success status), and a public route (/api/…) no operation declares.
 */
export function contractMismatches(module: Type<unknown>, operations: readonly HttpOperation[]): string[] {
  const routes = nestRoutes(module);
  const key = (method: string, path: string) => `${method} ${path}`;
  const byKey = new Map(routes.map((r) => [key(r.method, r.path), r]));
  const declared = new Set(operations.map((o) => key(o.method, o.path)));
  const problems: string[] = [];
  for (const op of operations) {
    const route = byKey.get(key(op.method, op.path));
    if (!route) problems.push(`${op.id}: no route serves ${key(op.method, op.path)}`);
    else if (route.status !== op.successStatus) problems.push(`${op.id}: ${route.handler} answers ${route.status}, the contract ${op.successStatus}`);
  }
  for (const r of routes) {
    if (r.path.startsWith('/api/') && !declared.has(key(r.method, r.path))) problems.push(`${r.handler}: ${key(r.method, r.path)} is in no contract operation`);
  }
  return problems;
}

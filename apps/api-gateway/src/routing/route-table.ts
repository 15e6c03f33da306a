import type { Request } from 'express';
import { HttpOperation } from '@mdm/contracts/core';
import { Principal } from '../access/tokens';
import type { UpstreamPool } from './upstream-pool';

export interface CallContext {
  req: Request;
  params: Record<string, string>;
  principal: Principal | undefined;
  /** The body, validated against the operation's schema. */
  body: unknown;
  query: unknown;
}

export interface Answer {
  status: number;
  body?: unknown;
}

/** A call the gateway answers itself (tenants, tokens, audit, clock, the API document). */
export interface GatewayRoute {
  operation: HttpOperation;
  handle(ctx: CallContext): Promise<Answer>;
}

/** A call a service answers: passed through to one of its instances (see pass-through.ts). */
export interface ProxiedRoute {
  operation: HttpOperation;
  upstream: UpstreamPool;
}

export type Route = GatewayRoute | ProxiedRoute;

export const isProxied = (route: Route): route is ProxiedRoute => 'upstream' in route;

type CompiledRoute = Route & {
  pattern: RegExp;
  names: string[];
};

/** Matches a request to the one operation of the contract it calls. */
export class RouteTable {
  private readonly routes: CompiledRoute[] = [];

  add(route: Route): this {
    const names: string[] = [];
    const source = route.operation.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, (_, name) => {
      names.push(name);
      return '([^/]+)';
    });
    this.routes.push({ ...route, pattern: new RegExp(`^${source}/?$`), names });
    return this;
  }

  match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.operation.method !== method) continue;
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
      return { route, params };
    }
    return undefined;
  }

  operations(): HttpOperation[] {
    return this.routes.map((r) => r.operation);
  }
}

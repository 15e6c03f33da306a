// Reads docker-compose.yml and the apps' ServiceDefinitions for compose.spec.ts.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { ServiceDefinition } from '@mdm/platform/http';

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; args?: Record<string, unknown> | string[] };
  environment?: Record<string, unknown> | string[];
  ports?: (string | number | { target: number | string; published?: number | string })[];
  expose?: (string | number)[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  deploy?: { replicas?: number | string };
  read_only?: boolean;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
}

/** An app under apps/ that has a service definition (e2e and other projects without one are skipped). */
export interface App {
  /** Its directory under apps/: what SERVICE names in the Dockerfile. */
  dir: string;
  definitionFile: string;
  definition: ServiceDefinition;
}

export function loadCompose(file: string): ComposeFile {
  // merge: the `<<: *app-env` keys, as Docker Compose reads them.
  const doc = parse(readFileSync(file, 'utf8'), { merge: true }) as ComposeFile;
  if (!doc || typeof doc.services !== 'object') throw new Error(`${file}: no services`);
  return doc;
}

const isDefinition = (value: unknown): value is ServiceDefinition =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as ServiceDefinition).name === 'string' &&
  typeof (value as ServiceDefinition).portVariable === 'string' &&
  typeof (value as ServiceDefinition).defaultPort === 'number' &&
  typeof (value as ServiceDefinition).schema === 'string';

/** Every apps/<dir>/src/*.definition.ts and the ServiceDefinition it exports (exactly one is expected). */
export function discoverApps(root: string): App[] {
  const appsDir = path.join(root, 'apps');
  const apps: App[] = [];
  for (const dir of readdirSync(appsDir, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    const src = path.join(appsDir, dir.name, 'src');
    if (!existsSync(src)) continue;
    for (const file of readdirSync(src).filter((f) => f.endsWith('.definition.ts'))) {
      const definitionFile = path.join(src, file);
      const exported = Object.values(require(definitionFile) as Record<string, unknown>).filter(isDefinition);
      if (exported.length !== 1) {
        throw new Error(`${path.relative(root, definitionFile)} exports ${exported.length} ServiceDefinitions, expected 1`);
      }
      apps.push({ dir: dir.name, definitionFile, definition: exported[0] });
    }
  }
  return apps.sort((a, b) => a.dir.localeCompare(b.dir));
}

const toRecord = (value: Record<string, unknown> | string[] | undefined): Record<string, string | undefined> => {
  if (!value) return {};
  if (Array.isArray(value)) {
    return Object.fromEntries(
      value.map((entry) => {
        const i = entry.indexOf('=');
        return i < 0 ? [entry, undefined] : [entry.slice(0, i), entry.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v === null || v === undefined ? undefined : String(v)]));
};

/** The service's environment as written (a bare `NAME` passes the host's value through: undefined here). */
export const environmentOf = (service: ComposeService) => toRecord(service.environment);

/** The container ports a service listens on, from `expose` and the target side of `ports`. */
export function containerPorts(service: ComposeService): number[] {
  const fromPorts = (service.ports ?? []).map((p) => {
    if (typeof p === 'object') return Number(p.target);
    // [ip:][published:]target[/protocol]
    const parts = String(p).replace(/\/(tcp|udp)$/, '').split(':');
    return Number(parts[parts.length - 1]);
  });
  const fromExpose = (service.expose ?? []).map((p) => Number(String(p).replace(/\/(tcp|udp)$/, '')));
  return [...new Set([...fromExpose, ...fromPorts])];
}

/** Ports on the host: the published side of `ports`. */
export function publishedPorts(service: ComposeService): number[] {
  return (service.ports ?? []).flatMap((p) => {
    if (typeof p === 'object') return p.published === undefined ? [] : [Number(p.published)];
    const parts = String(p).replace(/\/(tcp|udp)$/, '').split(':');
    return parts.length >= 2 ? [Number(parts[parts.length - 2])] : [];
  });
}

export function healthcheckCommand(service: ComposeService): string | undefined {
  const hc = service.healthcheck;
  if (!hc || hc.disable || !hc.test) return undefined;
  const test = Array.isArray(hc.test) ? hc.test : [hc.test];
  if (test[0] === 'NONE') return undefined;
  return test.filter((t) => t !== 'CMD' && t !== 'CMD-SHELL').join(' ');
}

export function dependencies(service: ComposeService): Record<string, string> {
  const d = service.depends_on;
  if (!d) return {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(d).map(([name, v]) => [name, v?.condition ?? 'service_started']));
}

/**
 * Compose variable interpolation, as far as this file can know it: `${X:-default}` / `${X-default}` become
 * the default; `${X}`, `${X:?err}` and `$X` (set by whoever runs compose) stay unresolved (undefined).
 */
export function interpolate(value: string): string | undefined {
  let unresolved = false;
  const out = value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*)|(:?\?)[^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (match, _name, dash, fallback) => {
    if (match === '$$') return '$';
    if (dash) return fallback as string;
    unresolved = true;
    return match;
  });
  return unresolved ? undefined : out;
}

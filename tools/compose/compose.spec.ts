// docker-compose.yml against the apps' ServiceDefinitions: it cannot be run here (no Docker engine), so
// what can drift silently is checked statically — a missing app, a misspelt variable, a wrong port or URL.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { commonConfigShape, port } from '@mdm/platform/config';
import {
  App,
  ComposeFile,
  ComposeService,
  containerPorts,
  dependencies,
  discoverApps,
  environmentOf,
  healthcheckCommand,
  interpolate,
  loadCompose,
  publishedPorts,
} from './compose-model';

const ROOT = path.resolve(__dirname, '../..');
const compose: ComposeFile = loadCompose(path.join(ROOT, 'docker-compose.yml'));
const apps: App[] = discoverApps(ROOT);
const appTable = apps.map((app) => [app.dir, app] as const);

/** The variables the service's config schema reads, as ServiceRuntime composes it. */
const configShape = ({ definition }: App): z.ZodRawShape => ({
  ...commonConfigShape,
  ...(definition.config ?? {}),
  [definition.portVariable]: port(definition.defaultPort),
  DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/).default(definition.schema),
});

/** The image every app runs: the platform image built from the Dockerfile, SERVICE picking the app. */
const platformImage = (service: ComposeService | undefined) => service?.image !== undefined && service.image === compose.services[apps[0].dir]?.image;

/**
 * A service's health check: its own in compose, else, for an app, the image's HEALTHCHECK (which asks
 * the /health of the app SERVICE names on its port variable's port; tools/docker/dockerfile.spec.ts).
 */
const healthOf = (name: string): string | undefined => {
  const own = healthcheckCommand(compose.services[name]);
  if (own) return own;
  const app = apps.find((a) => a.dir === name);
  return app && platformImage(compose.services[name]) ? `image HEALTHCHECK: :${listenPort(app)}/health` : undefined;
};

const serviceOf = (app: App) => {
  const service = compose.services[app.dir];
  if (!service) throw new Error(`docker-compose.yml has no service "${app.dir}"`);
  return service;
};

/** The port the app listens on inside its container: its port variable as compose sets it, else the default. */
const listenPort = (app: App): number => {
  const value = environmentOf(serviceOf(app))[app.definition.portVariable];
  return value === undefined ? app.definition.defaultPort : Number(interpolate(value));
};

/** The port other containers reach a compose service on: an app's listen port, else its only container port. */
const portOfService = (name: string): number | undefined => {
  const app = apps.find((a) => a.dir === name);
  if (app) return listenPort(app);
  const ports = containerPorts(compose.services[name]);
  return ports.length === 1 ? ports[0] : undefined;
};

describe('docker-compose.yml', () => {
  it('finds the apps by their service definitions, each with the main.ts the image runs', () => {
    expect(apps.length).toBeGreaterThan(0);
    const withoutMain = apps.filter((a) => !existsSync(path.join(ROOT, 'apps', a.dir, 'src', 'main.ts'))).map((a) => a.dir);
    expect(withoutMain).toEqual([]);
  });

  describe.each(appTable)('%s', (dir, app) => {
    it('has a compose service of the same name, running the platform image built from the Dockerfile, with SERVICE set to it', () => {
      const service = serviceOf(app);
      expect(service.build).toBeDefined();
      const build = typeof service.build === 'string' ? { context: service.build } : service.build!;
      expect(path.resolve(ROOT, build.context ?? '.', build.dockerfile ?? 'Dockerfile')).toBe(path.join(ROOT, 'Dockerfile'));
      expect(platformImage(service)).toBe(true);
      expect(environmentOf(service).SERVICE).toBe(dir);
    });

    it('runs with a read-only root filesystem and a number of replicas', () => {
      const service = serviceOf(app);
      expect(service.read_only).toBe(true);
      expect(Number(service.deploy?.replicas)).toBeGreaterThanOrEqual(1);
    });

    it('sets only environment variables its config schema knows (and SERVICE, which the image reads)', () => {
      const known = [...Object.keys(configShape(app)), 'SERVICE'];
      const unknown = Object.keys(environmentOf(serviceOf(app))).filter((name) => !known.includes(name));
      expect(unknown).toEqual([]);
    });

    it('sets values its config schema accepts', () => {
      // Values left to whoever runs compose (${X}, ${X:?...}) are not known here and are left out.
      const env = Object.fromEntries(
        Object.entries(environmentOf(serviceOf(app)))
          .map(([name, value]) => [name, value === undefined ? undefined : interpolate(value)])
          .filter(([, value]) => value !== undefined),
      );
      const parsed = z.object(configShape(app)).safeParse(env);
      expect(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
    });

    it('listens on all interfaces, with the platform database and broker', () => {
      const env = environmentOf(serviceOf(app));
      expect(env.HOST).toBe('0.0.0.0');
      expect(new URL(env.DATABASE_URL!).hostname).toBe('postgres');
      expect(env.KAFKA_BROKERS).toBe('kafka:9092');
    });

    it('exposes the port its port variable names, and health-checks that port', () => {
      const service = serviceOf(app);
      const listen = listenPort(app);
      expect(environmentOf(service)[app.definition.portVariable]).toBe(String(listen));
      expect(containerPorts(service)).toContain(listen);
      expect(healthOf(dir)).toContain(`:${listen}/health`);
    });

    it('sets every *_URL variable of its config (the defaults name 127.0.0.1, which is not the peer in a container)', () => {
      const env = environmentOf(serviceOf(app));
      const missing = Object.keys(app.definition.config ?? {}).filter((name) => name.endsWith('_URL') && env[name] === undefined);
      expect(missing).toEqual([]);
    });

    it('points every *_URL variable at a compose service and that service\'s port', () => {
      const problems = Object.entries(environmentOf(serviceOf(app)))
        .filter(([name]) => name.endsWith('_URL'))
        .flatMap(([name, raw]) => {
          const value = raw === undefined ? undefined : interpolate(raw);
          if (value === undefined) return [`${name} is left to the caller (${raw ?? 'unset'})`];
          const url = new URL(value);
          if (!(url.hostname in compose.services)) return [`${name}=${value}: no compose service "${url.hostname}"`];
          const expected = portOfService(url.hostname);
          if (Number(url.port) !== expected) return [`${name}=${value}: ${url.hostname} listens on ${expected}`];
          return [];
        });
      expect(problems).toEqual([]);
    });

    it('waits for its dependencies to be healthy, each of which has a health check', () => {
      const deps = dependencies(serviceOf(app));
      expect(Object.keys(deps)).toEqual(expect.arrayContaining(['postgres', 'kafka']));
      const problems = Object.entries(deps).flatMap(([name, condition]) => {
        if (!(name in compose.services)) return [`${name}: no such service`];
        if (condition !== 'service_healthy') return [`${name}: condition ${condition}`];
        if (!healthOf(name)) return [`${name}: no health check`];
        return [];
      });
      expect(problems).toEqual([]);
    });
  });

  it('runs the platform image for no service that is not an app', () => {
    const stale = Object.entries(compose.services)
      .filter(([, service]) => service.build !== undefined || platformImage(service))
      .filter(([name, service]) => !apps.some((a) => a.dir === name && environmentOf(service).SERVICE === a.dir))
      .map(([name]) => name);
    expect(stale).toEqual([]);
  });

  it('publishes the gateway on port 3000, and no other port of any service', () => {
    const gateway = apps.find((a) => a.definition.portVariable === 'GATEWAY_PORT');
    expect(gateway).toBeDefined();
    const published = Object.entries(compose.services).flatMap(([name, service]) => publishedPorts(service).map((p) => `${name}:${p}`));
    expect(published).toEqual([`${gateway!.dir}:3000`]);
  });

  it('runs Kafka as a single KRaft node reachable as kafka:9092, without topic auto-creation', () => {
    const kafka = environmentOf(compose.services.kafka);
    expect(compose.services.kafka.image).toBe('apache/kafka:4.1.1');
    expect(kafka.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(kafka.KAFKA_ADVERTISED_LISTENERS).toBe('PLAINTEXT://kafka:9092');
    expect(kafka.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
  });

  it('runs Postgres 15 with the mdm database and a health check', () => {
    const postgres = compose.services.postgres;
    expect(postgres.image).toBe('postgres:15');
    expect(environmentOf(postgres).POSTGRES_DB).toBe('mdm');
    expect(healthcheckCommand(postgres)).toContain('pg_isready');
    for (const app of apps) expect(new URL(environmentOf(serviceOf(app)).DATABASE_URL!).pathname).toBe('/mdm');
  });
});

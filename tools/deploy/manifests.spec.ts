import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { stackServices } from '../stack/services';
import { DEFAULT_VALUES_FILE, loadValues, renderManifests } from './manifests';

const deployDir = path.dirname(DEFAULT_VALUES_FILE);
const exampleFiles = readdirSync(deployDir).filter((f) => /^values\..+\.yaml$/.test(f));
/** What `npm run deploy:render` prints, read back as kubectl would: plain objects from YAML documents. */
const rendered = (files: string[]) =>
  parseAllDocuments(renderManifests(loadValues(files)).map((m) => stringify(m.toJSON())).join('---\n')).map(
    (d) => d.toJSON() as { apiVersion: string; kind: string; metadata: { name: string } },
  );
// The Kubernetes schema of each kind the manifests hold (kubernetes-models' generated validators).
const models: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
};

const renderings = [['deploy/values.yaml', []], ...exampleFiles.map((f) => [`deploy/${f}`, [path.join(deployDir, f)]])] as [string, string[]][];

describe.each(renderings)('the manifests rendered with %s', (_, files) => {
  const objects = rendered(files);
  const values = loadValues(files);
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind) as never[];
  const deployments = byKind('Deployment') as unknown as Deployment[];
  const deployment = (app: string) => deployments.find((d) => d.metadata!.name === `${values.name}-${app}`)!;
  const container = (app: string) => deployment(app).spec!.template.spec!.containers[0];
  const env = (app: string) => Object.fromEntries(container(app).env!.map((e) => [e.name, e.value ?? e.valueFrom]));

  it('are each valid against the Kubernetes schema of their kind', () => {
    const problems = objects.flatMap((o) => {
      const Model = models[`${o.apiVersion}/${o.kind}`];
      if (!Model) return [`${o.kind} ${o.metadata.name}: no schema known for ${o.apiVersion}`];
      try {
        new Model(o as never).validate();
        return [];
      } catch (err) {
        return [`${o.kind} ${o.metadata.name}: ${(err as Error).message}`];
      }
    });
    expect(problems).toEqual([]);
  });

  it('have one Deployment, Service and PodDisruptionBudget per service, with the replicas of the values', () => {
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget']) {
      expect(objects.filter((o) => o.kind === kind).map((o) => o.metadata.name).sort()).toEqual(stackServices.map(({ app }) => `${values.name}-${app}`).sort());
    }
    expect(Object.fromEntries(deployments.map((d) => [d.metadata!.name, d.spec!.replicas]))).toEqual(
      Object.fromEntries(stackServices.map(({ app }) => [`${values.name}-${app}`, values.services[app].replicas])),
    );
  });

  it.each(stackServices.map((s) => [s.app, s] as const))('%s: runs the platform image with SERVICE and its port, probed on /health', (app, { definition }) => {
    const c = container(app);
    expect(c.image).toBe(`${values.image.repository}:${values.image.tag}`);
    expect(env(app)).toMatchObject({ SERVICE: app, [definition.portVariable]: String(definition.defaultPort) });
    expect(c.ports).toEqual([{ name: 'http', containerPort: definition.defaultPort }]);
    for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) expect(probe?.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(c.resources).toEqual(values.services[app].resources);
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });

  it.each(stackServices.map((s) => [s.app, s] as const))('%s: reads the ConfigMap, and reaches each service it calls at that Service', (app, { definition }) => {
    expect(container(app).envFrom).toEqual([{ configMapRef: { name: `${values.name}-config` } }]);
    const urls = Object.keys(definition.config ?? {}).filter((name) => name.endsWith('_URL'));
    const expected = Object.fromEntries(
      urls.map((name) => {
        const peer = stackServices.find((s) => s.urlVariable === name)!;
        return [name, `http://${values.name}-${peer.app}:${peer.definition.defaultPort}`];
      }),
    );
    expect(Object.fromEntries(Object.entries(env(app)).filter(([name]) => name.endsWith('_URL')))).toEqual(expected);
    const services = objects.filter((o) => o.kind === 'Service') as unknown as Service[];
    for (const url of Object.values(expected)) {
      const { hostname, port } = new URL(url);
      expect(services.find((s) => s.metadata!.name === hostname)?.spec?.ports).toEqual([{ name: 'http', port: Number(port), targetPort: 'http' }]);
    }
  });

  it('give the secrets from the Secret, never as values: the operator token to the gateway, the CA key encryption key to enrollment, the signing key to all', () => {
    const fromSecret = (app: string) =>
      Object.entries(env(app))
        .filter(([, v]) => typeof v === 'object' && (v as { secretKeyRef?: { name: string } }).secretKeyRef?.name === values.secretName)
        .map(([name]) => name)
        .sort();
    expect(fromSecret('api-gateway')).toEqual(['MDM_GATEWAY_SIGNING_KEY', 'MDM_OPERATOR_TOKEN', 'PGPASSWORD']);
    expect(fromSecret('enrollment')).toEqual(['MDM_CA_KEY_ENCRYPTION_KEY', 'MDM_GATEWAY_SIGNING_KEY', 'PGPASSWORD']);
    expect(fromSecret('authority')).toEqual(['MDM_GATEWAY_SIGNING_KEY', 'PGPASSWORD']);
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  it('put Postgres and Kafka, given by URL, in the ConfigMap', () => {
    const [config] = byKind('ConfigMap') as unknown as ConfigMap[];
    expect(config.data).toMatchObject({ DATABASE_URL: values.postgres.url, KAFKA_BROKERS: values.kafka.brokers, HOST: '0.0.0.0', NODE_ENV: 'production' });
    expect(new URL(values.postgres.url).password).toBe('');
  });

  it('expose the gateway alone, through the Ingress', () => {
    const ingresses = byKind('Ingress') as unknown as Ingress[];
    expect(ingresses).toHaveLength(1);
    const backends = ingresses[0].spec!.rules!.flatMap((r) => r.http!.paths.map((p) => p.backend.service!.name));
    expect(backends).toEqual([`${values.name}-api-gateway`]);
    expect(ingresses[0].spec!.rules!.map((r) => r.host)).toEqual([values.ingress.host]);
    const services = byKind('Service') as unknown as Service[];
    expect(services.filter((s) => (s.spec!.type ?? 'ClusterIP') !== 'ClusterIP')).toEqual([]);
  });
});

describe('the values', () => {
  it('are checked: a misspelt key is refused with its path', () => {
    const file = path.join(deployDir, 'values.yaml');
    expect(() => loadValues([file, path.join(__dirname, 'fixtures/misspelt-values.yaml')])).toThrow(/services\.authority: Unrecognized key\(s\) in object: 'replica'/);
  });

  it('point the Strimzi example at a Strimzi bootstrap Service and an existing Postgres', () => {
    const values = loadValues([path.join(deployDir, 'values.strimzi-example.yaml')]);
    expect(values.kafka.brokers).toMatch(/^[a-z0-9-]+-kafka-bootstrap\.[a-z0-9-]+\.svc(\.cluster\.local)?:\d+$/);
    expect(new URL(values.postgres.url).hostname).not.toBe('postgres');
  });
});

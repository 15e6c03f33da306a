// The Kubernetes manifests of the platform, rendered from deploy/values.yaml and the files given on top
// of it (like a Helm chart's values). Helm cannot be installed on this project's machines, so the
// chart is this generator: typed objects (kubernetes-models) that its test validates against the
// Kubernetes schema, and whose output `kubectl apply -f -` takes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigMap, IContainer, IEnvVar, IProbe, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { parse } from 'yaml';
import { z } from 'zod';
import { StackService, stackServices } from '../stack/services';

export const DEFAULT_VALUES_FILE = path.resolve(__dirname, '../../deploy/values.yaml');

/** The secrets a service reads from the platform Secret, by the variable that carries them. */
const secretVariables = {
  MDM_OPERATOR_TOKEN: ['api-gateway'],
  MDM_GATEWAY_SIGNING_KEY: 'all',
  MDM_CA_KEY_ENCRYPTION_KEY: ['enrollment'],
  PGPASSWORD: 'all',
} as const satisfies Record<string, readonly string[] | 'all'>;

const quantity = z.union([z.string().regex(/^\d+(\.\d+)?(m|Mi|Gi|Ki|M|G|k)?$/), z.number()]);
const resources = z
  .object({
    requests: z.object({ cpu: quantity, memory: quantity }).strict(),
    limits: z.object({ cpu: quantity.optional(), memory: quantity }).strict(),
  })
  .strict();

const serviceValues = z.object({ replicas: z.number().int().min(0), resources }).strict();

export const valuesSchema = z
  .object({
    /** Prefix of every object's name: <name>-<app>. */
    name: z.string().regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/),
    image: z.object({ repository: z.string().min(1), tag: z.string().min(1), pullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']) }).strict(),
    postgres: z.object({ url: z.string().url() }).strict(),
    kafka: z.object({ brokers: z.string().min(1), topicNamespace: z.string().optional() }).strict(),
    /** The Secret (created beforehand, not by these manifests) with the variables of secretVariables. */
    secretName: z.string().min(1),
    /** More settings every service reads (LOG_LEVEL, CHECK_IN_INTERVAL_HOURS, …): into the ConfigMap. */
    config: z.record(z.string()),
    services: z.object(Object.fromEntries(stackServices.map(({ app }) => [app, serviceValues])) as Record<string, typeof serviceValues>).strict(),
    podDisruptionBudget: z.object({ maxUnavailable: z.number().int().min(1) }).strict(),
    ingress: z
      .object({
        enabled: z.boolean(),
        className: z.string().optional(),
        host: z.string().min(1),
        tlsSecretName: z.string().optional(),
        annotations: z.record(z.string()),
      })
      .strict(),
  })
  .strict();

export type Values = z.infer<typeof valuesSchema>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function merge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = merge(base[key], value);
  return out;
}

/** deploy/values.yaml with each file merged on top in order (maps key by key, the rest replaced), checked. */
export function loadValues(files: string[] = []): Values {
  const layers = [DEFAULT_VALUES_FILE, ...files].map((file) => parse(readFileSync(file, 'utf8')) ?? {});
  const parsed = valuesSchema.safeParse(layers.reduce(merge, {}));
  if (!parsed.success) {
    throw new Error(`bad values: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

type Manifest = ConfigMap | Deployment | Service | PodDisruptionBudget | Ingress;

/** Every object of the platform: a ConfigMap, and per service a Deployment, a Service and a PodDisruptionBudget; the gateway's Ingress. */
export function renderManifests(values: Values): Manifest[] {
  const objectName = (app: string) => `${values.name}-${app}`;
  const labels = (app: string) => ({ 'app.kubernetes.io/name': app, 'app.kubernetes.io/part-of': values.name });
  const port = ({ definition }: StackService) => definition.defaultPort;
  const configName = `${values.name}-config`;

  const config = new ConfigMap({
    metadata: { name: configName, labels: { 'app.kubernetes.io/part-of': values.name } },
    data: {
      NODE_ENV: 'production',
      HOST: '0.0.0.0',
      DATABASE_URL: values.postgres.url,
      KAFKA_BROKERS: values.kafka.brokers,
      ...(values.kafka.topicNamespace && { KAFKA_TOPIC_NAMESPACE: values.kafka.topicNamespace }),
      ...values.config,
    },
  });

  // Where a service reaches the others it calls: their Services, by the variables its config reads.
  const peerUrls = (service: StackService): IEnvVar[] =>
    stackServices
      .filter((peer) => peer.urlVariable && peer.urlVariable in (service.definition.config ?? {}))
      .map((peer) => ({ name: peer.urlVariable!, value: `http://${objectName(peer.app)}:${port(peer)}` }));

  const secrets = (app: string): IEnvVar[] =>
    Object.entries(secretVariables)
      .filter(([, apps]) => apps === 'all' || (apps as readonly string[]).includes(app))
      .map(([name]) => ({
        name,
        // Optional: a deployment without a Postgres password, or before a service reads a new key, still starts.
        valueFrom: { secretKeyRef: { name: values.secretName, key: name, optional: name !== 'MDM_OPERATOR_TOKEN' } },
      }));

  const health = (overrides: Partial<IProbe>): IProbe => ({
    httpGet: { path: '/health', port: 'http' },
    timeoutSeconds: 3,
    ...overrides,
  });

  const perService = stackServices.flatMap((service): Manifest[] => {
    const { app, definition } = service;
    const own = values.services[app];
    const container: IContainer = {
      name: app,
      image: `${values.image.repository}:${values.image.tag}`,
      imagePullPolicy: values.image.pullPolicy,
      ports: [{ name: 'http', containerPort: port(service) }],
      envFrom: [{ configMapRef: { name: configName } }],
      env: [
        { name: 'SERVICE', value: app },
        { name: definition.portVariable, value: String(port(service)) },
        ...peerUrls(service),
        ...secrets(app),
      ],
      resources: own.resources,
      // Start-up applies the service's migrations: up to a minute before liveness counts.
      startupProbe: health({ periodSeconds: 2, failureThreshold: 30 }),
      // Out of the Service's endpoints while Postgres or Kafka is unreachable (/health answers 503).
      readinessProbe: health({ periodSeconds: 5, failureThreshold: 2 }),
      // Restarted only after a minute of failures: a short outage of Postgres or Kafka is waited out.
      livenessProbe: health({ periodSeconds: 10, failureThreshold: 6 }),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
      volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
    };
    return [
      new Deployment({
        metadata: { name: objectName(app), labels: labels(app) },
        spec: {
          replicas: own.replicas,
          selector: { matchLabels: labels(app) },
          template: {
            metadata: { labels: labels(app) },
            spec: {
              containers: [container],
              volumes: [{ name: 'tmp', emptyDir: {} }],
              securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
              automountServiceAccountToken: false,
              terminationGracePeriodSeconds: 30,
            },
          },
        },
      }),
      new Service({
        metadata: { name: objectName(app), labels: labels(app) },
        spec: { selector: labels(app), ports: [{ name: 'http', port: port(service), targetPort: 'http' }] },
      }),
      new PodDisruptionBudget({
        metadata: { name: objectName(app), labels: labels(app) },
        spec: { maxUnavailable: values.podDisruptionBudget.maxUnavailable, selector: { matchLabels: labels(app) } },
      }),
    ];
  });

  const gateway = stackServices.find(({ urlVariable }) => !urlVariable)!;
  const ingress = values.ingress;
  const exposed = ingress.enabled
    ? [
        new Ingress({
          metadata: { name: objectName(gateway.app), labels: labels(gateway.app), annotations: ingress.annotations },
          spec: {
            ...(ingress.className && { ingressClassName: ingress.className }),
            ...(ingress.tlsSecretName && { tls: [{ hosts: [ingress.host], secretName: ingress.tlsSecretName }] }),
            rules: [
              {
                host: ingress.host,
                http: {
                  paths: [
                    {
                      path: '/',
                      pathType: 'Prefix',
                      backend: { service: { name: objectName(gateway.app), port: { name: 'http' } } },
                    },
                  ],
                },
              },
            ],
          },
        }),
      ]
    : [];

  return [config, ...perService, ...exposed];
}

/**
 * (n)'s stand-in for the system: the few calls of the public API a device agent makes, answered at
 * once from memory, so that (n) measures the agent alone (its memory per device, its own speed)
 * without the load of 10,000 devices on the services, Postgres and Kafka of a shared machine. Its
 * OpenAPI document lists `csrPem` in the enrollment body, so the agent makes a CSR per device, as it
 * will against a server that takes them. A process of its own: it holds a socket per waiting poll.
 * IPC: { notifyAll } answers every waiting poll with a notification.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ServerResponse, createServer } from 'node:http';

const HOUR = 3_600_000;
const waiting = new Map<ServerResponse, NodeJS.Timeout>();
const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
/** One certificate for all: a serial that changed would count as a renewal at the agent. */
const CERTIFICATE = { serial: '5748', notAfter: new Date(Date.now() + 365 * 24 * HOUR).toISOString() };
const openApi = {
  paths: {
    '/api/v1/tenants/{tenantId}/enrollments': {
      post: { requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { platform: {}, serialNumber: {}, csrPem: {} } } } } } },
    },
  },
};

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://stub');
  req.resume();
  req.on('end', () => {
    if (url.pathname === '/api/v1/system/clock') return json(res, 200, { now: new Date().toISOString() });
    if (url.pathname === '/api/v1/openapi.json') return json(res, 200, openApi);
    if (req.method === 'POST' && url.pathname.endsWith('/enrollments')) {
      return json(res, 201, { deviceId: randomUUID(), deviceCredential: `dc_${randomBytes(32).toString('base64url')}`, managedBy: 'office365', mdmCertificate: CERTIFICATE });
    }
    if (url.pathname === '/device/v1/check-in') {
      return json(res, 200, {
        deviceId: randomUUID(),
        managedBy: 'intune',
        configurations: [],
        redundantConfigurations: [],
        commands: [],
        compliance: { state: 'compliant', reasons: [], source: 'intune' },
        mdmCertificate: CERTIFICATE,
        nextCheckInAt: new Date(Date.now() + 8 * HOUR).toISOString(),
      });
    }
    if (url.pathname === '/device/v1/notifications') {
      const wait = Number(url.searchParams.get('waitSeconds') ?? 0) * 1000;
      const timer = setTimeout(() => waiting.delete(res) && json(res, 200, { notifications: [] }), wait);
      waiting.set(res, timer);
      res.on('close', () => waiting.delete(res) && clearTimeout(timer));
      return;
    }
    json(res, 404, { code: 'NOT_FOUND', message: url.pathname });
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
process.on('message', (m: { notifyAll?: boolean }) => {
  if (!m.notifyAll) return;
  const notification = { notificationId: randomUUID(), reason: 'authorityChanged', createdAt: new Date().toISOString() };
  for (const [res, timer] of waiting) {
    clearTimeout(timer);
    json(res, 200, { notifications: [notification] });
  }
  waiting.clear();
});

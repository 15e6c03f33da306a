// The image's HEALTHCHECK: GET /health of the service SERVICE names, on the port its variable sets.
// Plain JavaScript with no imports, so that it runs in the runtime image beside the bundles; the ports
// are the apps' ServiceDefinitions' (tools/docker/dockerfile.spec.ts keeps them equal).
const ports = {
  authority: ['AUTHORITY_PORT', 3101],
  licensing: ['LICENSING_PORT', 3102],
  enrollment: ['ENROLLMENT_PORT', 3103],
  'device-sync': ['DEVICE_SYNC_PORT', 3104],
  projection: ['PROJECTION_PORT', 3105],
  'api-gateway': ['GATEWAY_PORT', 3000],
};
module.exports = { ports };

if (require.main === module) {
  const [variable, defaultPort] = ports[process.env.SERVICE] ?? [];
  if (!variable) {
    console.error(`SERVICE must be one of ${Object.keys(ports).join(', ')}`);
    process.exit(1);
  }
  fetch(`http://127.0.0.1:${process.env[variable] ?? defaultPort}/health`, { signal: AbortSignal.timeout(4000) }).then(
    (response) => process.exit(response.ok ? 0 : 1),
    () => process.exit(1),
  );
}

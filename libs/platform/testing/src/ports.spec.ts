import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from './ports';

describe('freePort', () => {
  const linux = process.platform === 'linux' ? it : it.skip;

  linux('hands out ports below the kernel\'s ephemeral range (outgoing connections never take them), each once, each bindable', async () => {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(ports.every((p) => p >= 10_000 && p < low)).toBe(true);
    expect(new Set(ports).size).toBe(20);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(ports[0], '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});

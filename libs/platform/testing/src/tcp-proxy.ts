import { Server, Socket, createServer } from 'node:net';

/**
 * A TCP proxy in front of a server (Postgres) that a test can cut (connections dropped, new ones
 * refused) or pause (bytes held in both directions, as a server that stopped answering), and restore:
 * an outage of a shared dependency without disturbing it for anyone else.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private paused = false;
  private readonly held: (() => void)[] = [];
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly host = '127.0.0.1',
  ) {}

  /** Listens (on a free port the first time, then on the same one); listening already, does nothing. */
  async open(): Promise<number> {
    if (this.server) return this.port;
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    return this.port;
  }

  /** The target's URL with this proxy's host and port. */
  url(targetUrl: string): string {
    const url = new URL(targetUrl);
    url.hostname = this.host;
    url.port = String(this.port);
    return url.toString();
  }

  private accept(client: Socket): void {
    const upstream = new Socket();
    const pair = { client, upstream };
    this.pairs.add(pair);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk) => {
        if (this.paused) this.held.push(() => to.write(chunk));
        else to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
    upstream.connect(this.target.port, this.target.host);
  }

  /** Drops every connection and refuses new ones (the port is closed). */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  /** Holds every byte in both directions until resume(): the server seems to hang. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const send of this.held.splice(0)) send();
  }

  async close(): Promise<void> {
    this.resume();
    await this.cut();
  }
}

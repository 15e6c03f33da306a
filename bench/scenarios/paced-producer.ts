/**
 * The producer of (j), in a process of its own (as the services that publish events are): the
 * projection's event loop then does not delay the producer's clock, and recordedAt is stamped when
 * the event is sent, as the outbox relay would see it.
 *
 * Parent → child: { cmd: 'setup', ... }, then { cmd: 'run', ... }. Child → parent: { done: 'setup',
 * events } after the tenants and enrollments, { done: 'run', ... } after the paced stream, or
 * { error }.
 */
import { performance } from 'node:perf_hooks';
import { createKafka, createReliableProducer, Producer } from '@mdm/platform/kafka';
import { kafkaLogger } from '../config';
import { DeviceFleet, Message, topicMessages } from '../device-fleet';

export interface SetupCommand {
  cmd: 'setup';
  brokers: string[];
  topicOf: Record<string, string>;
  tenants: number;
  devices: number;
}

export interface RunCommand {
  cmd: 'run';
  rate: number;
  durationMs: number;
  sliceMs: number;
}

export interface RunReport {
  done: 'run';
  sent: number;
  /** From the first send to the acknowledgement of the last. */
  seconds: number;
  sends: number;
  /** The most events that were due and not yet sent when a slice began (the producer falling behind). */
  maxBacklog: number;
  /** Slowest sendBatch, ms. */
  maxSendMs: number;
}

let fleet: DeviceFleet;
let producer: Producer;

const reply = (m: unknown) => process.send!(m);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** At most this many messages per sendBatch: a backlog after a stall must not exceed the broker's batch size. */
const MAX_SEND = 1000;

async function send(producer: Producer, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += MAX_SEND) {
    await producer.sendBatch({ acks: -1, topicMessages: topicMessages(messages.slice(i, i + MAX_SEND)) });
  }
}

async function setup(c: SetupCommand): Promise<void> {
  const kafka = createKafka({ clientId: 'bench-paced-producer', brokers: c.brokers, logger: kafkaLogger });
  producer = createReliableProducer(kafka);
  await producer.connect();
  fleet = new DeviceFleet(c.topicOf, c.tenants, c.devices);
  const setupEvents = [...fleet.tenantEvents(), ...fleet.enrollments()];
  await send(producer, setupEvents.map((e) => fleet.message(e)));
  reply({ done: 'setup', events: setupEvents.length });
}

/**
 * Paced: every slice sends what is due by then (rate × elapsed, minus what was sent), in sendBatch
 * calls of at most MAX_SEND events, each stamped just before its own send. A slow send makes the
 * next slice bigger, never drops events; the report says how far behind the producer fell.
 */
async function run(c: RunCommand): Promise<void> {
  const total = Math.round((c.rate * c.durationMs) / 1000);
  const perSlice = Math.ceil((c.rate * c.sliceMs) / 1000);
  const start = performance.now();
  let sent = 0;
  let sends = 0;
  let maxBacklog = 0;
  let maxSendMs = 0;
  for (let slice = 1; sent < total; slice++) {
    const due = Math.min(total, Math.floor((c.rate * (performance.now() - start)) / 1000));
    maxBacklog = Math.max(maxBacklog, due - sent - perSlice);
    while (sent < due) {
      const n = Math.min(MAX_SEND, due - sent);
      const now = new Date();
      const messages: Message[] = new Array(n);
      for (let i = 0; i < n; i++) messages[i] = fleet.message(fleet.next(now));
      const t = performance.now();
      await producer.sendBatch({ acks: -1, topicMessages: topicMessages(messages) });
      maxSendMs = Math.max(maxSendMs, performance.now() - t);
      sent += n;
      sends++;
    }
    if (sent < total) await sleep(start + slice * c.sliceMs - performance.now());
  }
  const report: RunReport = { done: 'run', sent, seconds: (performance.now() - start) / 1000, sends, maxBacklog: Math.max(0, maxBacklog), maxSendMs };
  reply(report);
}

process.on('message', (m: SetupCommand | RunCommand | { cmd: 'exit' }) => {
  const work = m.cmd === 'setup' ? setup(m) : m.cmd === 'run' ? run(m) : producer?.disconnect().finally(() => process.exit(0));
  work?.catch((err: Error) => reply({ error: err.stack ?? String(err) }));
});

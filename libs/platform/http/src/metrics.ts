import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus registry of one service. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly outboxPublished: Counter;
  readonly outboxPending: Gauge;
  readonly consumerLag: Gauge;
  readonly readYourWrites: Histogram<'step'>;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.outboxPublished = new Counter({
      name: 'outbox_published_total',
      help: 'Outbox rows published to Kafka',
      registers: [this.registry],
    });
    this.outboxPending = new Gauge({
      name: 'outbox_pending',
      help: 'Outbox rows not yet published',
      registers: [this.registry],
    });
    this.readYourWrites = new Histogram({
      name: 'read_your_writes_seconds',
      help: "What read-your-writes cost a call: 'ask', the owners' answer of what they committed; 'apply', the wait beyond its first look until this service's inbox applied it (0 when caught up)",
      labelNames: ['step'],
      // Up to past the 3-s bound on a wait, where a call is refused.
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.consumerLag = new Gauge({
      name: 'kafka_consumer_lag',
      help: 'Messages behind the newest offset on the partitions this instance consumes',
      registers: [this.registry],
    });
  }
}

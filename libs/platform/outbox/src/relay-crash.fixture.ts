// A relay process that dies (SIGKILL) right after Kafka acknowledged its first batch and before it
// could mark the rows published: the crash window the outbox must survive.
import { Database } from '@mdm/platform/database';
import { createReliableProducer } from '@mdm/platform/kafka';
import { createLogger } from '@mdm/platform/logging';
import { testKafka } from '@mdm/platform/testing';
import { OutboxRelay } from './outbox-relay';

async function main() {
  const schema = process.env.RELAY_SCHEMA!;
  const db = new Database({ url: process.env.DATABASE_URL!, schema, migrations: [] });
  const producer = createReliableProducer(testKafka('crashing-relay'));
  await producer.connect();
  const crashing = Object.create(producer) as typeof producer;
  crashing.sendBatch = async (batch) => {
    const result = await producer.sendBatch(batch);
    process.kill(process.pid, 'SIGKILL');
    return result;
  };
  new OutboxRelay({
    clientConfig: db.clientConfig(),
    schema,
    channel: `${schema}_outbox`,
    producer: crashing,
    logger: createLogger('crashing-relay', 'fatal'),
  }).start();
}

void main();

import { testKafka } from '@mdm/platform/testing';
import { createReliableProducer } from './index';

describe('an idle Kafka connection (every service holds several)', () => {
  it('arms no timer while no request waits (kafkajs alone re-arms a 1 ms one for ever)', async () => {
    const producer = createReliableProducer(testKafka('idle'));
    // Connected: answers have come on the connection, after which kafkajs's own check loops.
    await producer.connect();
    const timers = jest.spyOn(global, 'setTimeout');
    try {
      await new Promise((r) => setTimeout(r, 500));
      // The test's own.
      expect(timers).toHaveBeenCalledTimes(1);
    } finally {
      timers.mockRestore();
      await producer.disconnect();
    }
  });
});

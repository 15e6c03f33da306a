import { randomUUID } from 'node:crypto';
import { EventEnvelope } from '@mdm/contracts/core';
import { Sql } from '@mdm/platform/database';
import { createLogger, runWithContext } from '@mdm/platform/logging';
import { envelopeFixture } from '@mdm/platform/testing';
import { BEFORE_EVENTS, InboxEventTransport, InboxTransportOptions, runsOfOneType } from './event-transport';
import { inEventContext } from './inbox-consumer';

describe('runsOfOneType (what an @EventBatch handler receives at once)', () => {
  it('splits where the type changes and keeps the order, so every event is applied in its turn', () => {
    const events = ['Enrolled', 'Enrolled', 'Unenrolled', 'Enrolled', 'Removed', 'Removed'].map((type, n) => ({ type, n }));
    expect(runsOfOneType(events).map((run) => run.map((e) => `${e.type}#${e.n}`))).toEqual([
      ['Enrolled#0', 'Enrolled#1'],
      ['Unenrolled#2'],
      ['Enrolled#3'],
      ['Removed#4', 'Removed#5'],
    ]);
    expect(runsOfOneType([])).toEqual([]);
  });
});

describe('InboxEventTransport: the log context of a handler', () => {
  /** A transport whose handlers log through `log`, and the lines they wrote. */
  function transportLogging() {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('test', 'info', { write: (line: string) => lines.push(JSON.parse(line)) });
    const transport = new InboxEventTransport({} as InboxTransportOptions);
    return { transport, log, lines, dispatch: (events: EventEnvelope[]) => transport['dispatch'](events.map((event) => ({ event, delivery })), sql) };
  }
  const delivery = { topic: 't', partition: 0, offset: '0' };
  const sql = { query: async () => [] } as Sql;
  const [tenantA, tenantB, cause] = [randomUUID(), randomUUID(), randomUUID()];
  const changed = (tenantId: string, correlationId: string) => envelopeFixture({ type: 'Changed', streamId: `s-${randomUUID()}`, tenantId, correlationId, data: {} });
  const context = ({ msg, tenantId, correlationId }: Record<string, unknown>) => ({ msg, tenantId, correlationId });

  it('an @EventBatch handler runs in the tenant and correlation its events share (none where they differ), and a step for one event in that event\'s own', async () => {
    const { transport, log, lines, dispatch } = transportLogging();
    transport.addHandler(
      'Changed',
      async (events: EventEnvelope[]) => {
        log.info('batch');
        for (const e of events) await inEventContext(e, async () => log.info('step'));
      },
      true,
      { batch: true },
    );
    const events = [changed(tenantA, cause), changed(tenantA, cause), changed(tenantB, 'other')];

    await dispatch(events.slice(0, 2));
    // Not even an outer context's ids stand for events that disagree.
    await runWithContext({ tenantId: 'outer', correlationId: 'outer' }, () => dispatch(events));

    expect(lines.map(context)).toEqual([
      { msg: 'batch', tenantId: tenantA, correlationId: cause },
      { msg: 'step', tenantId: tenantA, correlationId: cause },
      { msg: 'step', tenantId: tenantA, correlationId: cause },
      { msg: 'batch', tenantId: undefined, correlationId: undefined },
      { msg: 'step', tenantId: tenantA, correlationId: cause },
      { msg: 'step', tenantId: tenantA, correlationId: cause },
      { msg: 'step', tenantId: tenantB, correlationId: 'other' },
    ]);
  });

  it('an @EventPattern handler runs in each event\'s own context', async () => {
    const { transport, log, lines, dispatch } = transportLogging();
    transport.addHandler('Changed', async () => log.info('one'), true);

    await dispatch([changed(tenantA, cause), changed(tenantB, 'other')]);

    expect(lines.map(context)).toEqual([
      { msg: 'one', tenantId: tenantA, correlationId: cause },
      { msg: 'one', tenantId: tenantB, correlationId: 'other' },
    ]);
  });

  it('a @BeforeEvents handler runs first, once per transaction, with every event the transaction applies', async () => {
    const { transport, log, lines, dispatch } = transportLogging();
    transport.addHandler(BEFORE_EVENTS, async (events: EventEnvelope[]) => log.info(`before ${events.map((e) => e.tenantId).join(',')}`), true, { batch: true });
    transport.addHandler('Changed', async () => log.info('one'), true);
    transport.addHandler('Other', async () => log.info('other'), true);

    await dispatch([changed(tenantA, cause), envelopeFixture({ type: 'Other', streamId: 's', tenantId: tenantA, correlationId: cause, data: {} }), changed(tenantB, 'other')]);

    expect(lines.map(context)).toEqual([
      { msg: `before ${tenantA},${tenantA},${tenantB}`, tenantId: undefined, correlationId: undefined },
      { msg: 'one', tenantId: tenantA, correlationId: cause },
      { msg: 'other', tenantId: tenantA, correlationId: cause },
      { msg: 'one', tenantId: tenantB, correlationId: 'other' },
    ]);
  });
});

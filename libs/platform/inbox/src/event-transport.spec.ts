import { runsOfOneType } from './event-transport';

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

import { ensureDatabase } from './infra';
import { pgInsertScenario } from './scenarios/pg-insert';
import { eventStoreScenario } from './scenarios/event-store';
import { printTable } from './report';
(async () => {
  await ensureDatabase();
  const a = await pgInsertScenario();
  const b = await eventStoreScenario(a.rowsPerSecond);
  printTable([...a.results, ...b]);
})();

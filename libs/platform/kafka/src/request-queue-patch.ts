// kafkajs 2.2.4 (its last release) re-arms a timer on every connection forever once the connection
// has had an answer, whether or not a request waits (tulios/kafkajs#1704, #1751): CPU burnt by every
// idle process (README, "Performance notes"), and, as its delay is -1 - Date.now() while nothing is
// throttled, a TimeoutNegativeWarning on Node 24. The check only matters while requests wait:
// enqueueing one schedules it again. Clients made outside this library miss the patch.
const RequestQueue = require('kafkajs/src/network/requestQueue') as {
  prototype: { pending: unknown[]; scheduleCheckPendingRequests(): void };
};

const schedule = RequestQueue.prototype.scheduleCheckPendingRequests;
RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleWhileRequestsWait(this: { pending: unknown[] }) {
  if (this.pending.length > 0) schedule.call(this);
};

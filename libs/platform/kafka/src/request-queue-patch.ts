// kafkajs 2.2.4 (its last release) re-arms a 1 ms timer on every connection forever once the
// connection has had an answer, whether or not a request waits (tulios/kafkajs#1704, #1751): about
// 3.5 % of a core per idle process, and a TimeoutNegativeWarning on Node 24. The check only matters
// while requests wait: enqueueing one schedules it again.
const RequestQueue = require('kafkajs/src/network/requestQueue') as {
  prototype: { pending: unknown[]; scheduleCheckPendingRequests(): void };
};

const schedule = RequestQueue.prototype.scheduleCheckPendingRequests;
RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleWhileRequestsWait(this: { pending: unknown[] }) {
  if (this.pending.length > 0) schedule.call(this);
};

/**
 * The long-poll load generator of (h), in a process of its own (10,000 client sockets next to the
 * service's 10,000 would pass the file limit of one process). argv: url, credential prefix, count.
 * Sends { ready } once every poll is written, then { done } with when the last one answered.
 */
import { CallSigner, signedContextHeader } from '@mdm/platform/http-client';
import { httpCall, keepAliveAgent } from './http';

const [url, prefix, countText] = process.argv.slice(2);
const count = Number(countText);
const agent = keepAliveAgent(count + 10);
const signer = new CallSigner(process.env.MDM_GATEWAY_SIGNING_KEY!, 'api-gateway');
let answered = 0;
let notified = 0;
let errors = 0;
let lastAt = 0;
const sample: string[] = [];

const polls = Array.from({ length: count }, async (_, i) => {
  try {
    const target = `${url}/device/v1/notifications?waitSeconds=30`;
    const { status, text } = await httpCall(agent, target, {
      headers: { authorization: `Device ${prefix}-${i + 1}`, ...signedContextHeader(signer, 'GET', new URL(target), { actor: 'device' }) },
    });
    const got = status === 200 && (JSON.parse(text) as { notifications: unknown[] }).notifications.length > 0;
    if (got) notified++;
    else if (sample.length < 3) sample.push(`${status} ${text.slice(0, 150)}`);
  } catch (err) {
    errors++;
    if (sample.length < 3) sample.push((err as Error).message);
  }
  answered++;
  lastAt = Date.now();
});
process.send!({ ready: true });
void Promise.all(polls).then(() => {
  process.send!({ done: true, answered, notified, errors, lastAt, sample }, () => process.exit(0));
});

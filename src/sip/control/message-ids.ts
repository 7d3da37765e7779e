// Ids for control messages and transactions, in the UUID form drachtio-server uses: the first
// four groups random, fixed at start-up, the last one a counter. Unique within the process's
// lifetime and cheap; drachtio-srf treats them as opaque strings, so they need not be
// unpredictable, only never reused (a randomUUID per message showed up in profiles).
import { randomUUID } from 'node:crypto';

const prefix = randomUUID().slice(0, 24);
let counter = 0;

export function nextId(): string {
  counter++;
  return prefix + counter.toString(16).padStart(12, '0');
}

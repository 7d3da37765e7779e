// Cryptographically random hex for tags and branches (RFC 3261 §19.3 wants tags random with
// at least 32 bits). Drawn from a pool refilled 4 KB at a time: a randomBytes call per tag or
// branch showed up in profiles at a few thousand calls per second.
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

export function randomHex(bytes: number): string {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

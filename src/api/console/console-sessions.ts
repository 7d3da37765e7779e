// Server-side sessions of the web console: the API token is exchanged once for a
// random session id carried in an HttpOnly cookie. Only a SHA-256 of each id is
// kept (a memory dump or a log of the map holds nothing a browser could replay);
// a session expires `ttlSec` after sign-in, whatever it did meanwhile. Expired
// entries are dropped whenever a session is created or looked up, so the store
// owns no timer. In memory only: a restart signs everyone out.
import { createHash, randomBytes } from 'node:crypto';

export interface ConsoleSession {
  /** SHA-256 of the id, base64url: the key of the map. */
  readonly key: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** The name of the API token exchanged for it (`default` for api.token): who acts through it. */
  readonly tokenName: string;
}

/** More live sessions than this: the oldest is dropped (a token holder signing in in a loop cannot grow the map). */
const MAX_SESSIONS = 10_000;

/** What a session id looks like in a cookie: 32 random bytes, base64url. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();
  private closed = false;

  constructor(
    readonly ttlSec: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session; the returned id goes into the cookie and is not kept. */
  create(tokenName = 'default'): { id: string; session: ConsoleSession } {
    if (this.closed) throw new Error('console sessions are closed');
    this.sweep();
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    const session: ConsoleSession = { key: hash(id), createdAt: t, expiresAt: t + this.ttlSec * 1000, tokenName };
    this.sessions.set(session.key, session);
    return { id, session };
  }

  /** The live session of a cookie value, or null (unknown, forged, expired, malformed). */
  get(id: string | undefined): ConsoleSession | null {
    if (!id || !SESSION_ID.test(id)) return null;
    const key = hash(id);
    const s = this.sessions.get(key);
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(key);
      return null;
    }
    return s;
  }

  /** Signs a session out; true when it existed. */
  delete(id: string | undefined): boolean {
    if (!id || !SESSION_ID.test(id)) return false;
    return this.sessions.delete(hash(id));
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Synchronous, idempotent: every session ends. */
  close(): void {
    this.closed = true;
    this.sessions.clear();
  }

  private sweep(): void {
    const t = this.now();
    // Insertion order is creation order, and every session lives as long: the expired ones come first.
    for (const [k, s] of this.sessions) {
      if (s.expiresAt > t) break;
      this.sessions.delete(k);
    }
  }
}

function hash(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

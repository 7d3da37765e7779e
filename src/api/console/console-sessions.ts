// Server-side sessions of the web console: the API token is exchanged once for a
// random session id carried in an HttpOnly cookie. Only a SHA-256 of each id is
// kept (a memory dump or a log of the map holds nothing a browser could replay);
// a session expires `ttlSec` after sign-in, whatever it did meanwhile. Expired
// entries are dropped whenever a session is created or looked up. What a session
// keeps open (the event stream, a listen-in's browser session) registers onEnd and
// is closed when it ends: signed out, expired (a timer, armed only while something
// is registered), dropped, or the store closing. In memory only: a restart signs
// everyone out.
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

/** The longest a timer can wait (setTimeout's limit); a later expiry re-arms it. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a session id looks like in a cookie: 32 random bytes, base64url. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();
  /** What to close when a session ends, by key, with the timer of its expiry. */
  private readonly enders = new Map<string, { fns: Set<() => void>; timer: NodeJS.Timeout | null }>();
  private closed = false;

  constructor(
    readonly ttlSec: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session; the returned id goes into the cookie and is not kept. */
  create(tokenName = 'default'): { id: string; session: ConsoleSession } {
    if (this.closed) throw new Error('console sessions are closed');
    this.sweep();
    while (this.sessions.size >= MAX_SESSIONS) this.end(this.sessions.keys().next().value!);
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
      this.end(key);
      return null;
    }
    return s;
  }

  /** Signs a session out; true when it existed. */
  delete(id: string | undefined): boolean {
    if (!id || !SESSION_ID.test(id)) return false;
    const key = hash(id);
    const had = this.sessions.has(key);
    this.end(key);
    return had;
  }

  /** `fn` runs once when `session` ends (signed out, expired, dropped, the store closing); the returned function unregisters it. */
  onEnd(session: ConsoleSession, fn: () => void): () => void {
    if (this.sessions.get(session.key) !== session) {
      fn();
      return () => undefined;
    }
    let e = this.enders.get(session.key);
    if (!e) {
      e = { fns: new Set(), timer: null };
      this.enders.set(session.key, e);
      this.armExpiry(session);
    }
    const entry = e;
    entry.fns.add(fn);
    return () => {
      entry.fns.delete(fn);
      if (entry.fns.size > 0 || this.enders.get(session.key) !== entry) return;
      if (entry.timer) clearTimeout(entry.timer);
      this.enders.delete(session.key);
    };
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Synchronous, idempotent: every session ends. */
  close(): void {
    this.closed = true;
    for (const key of [...this.sessions.keys(), ...this.enders.keys()]) this.end(key);
    this.sessions.clear();
  }

  private armExpiry(session: ConsoleSession): void {
    const e = this.enders.get(session.key);
    if (!e) return;
    const ms = session.expiresAt - this.now();
    if (ms <= 0) return this.end(session.key);
    e.timer = setTimeout(() => this.armExpiry(session), Math.min(ms, MAX_TIMER_MS));
    e.timer.unref();
  }

  /** The session is over: forgotten, and what it kept open is closed. */
  private end(key: string): void {
    this.sessions.delete(key);
    const e = this.enders.get(key);
    if (!e) return;
    this.enders.delete(key);
    if (e.timer) clearTimeout(e.timer);
    for (const fn of e.fns) {
      try {
        fn();
      } catch {
        // One closer failing does not keep the others open.
      }
    }
  }

  private sweep(): void {
    const t = this.now();
    // Insertion order is creation order, and every session lives as long: the expired ones come first.
    for (const [k, s] of this.sessions) {
      if (s.expiresAt > t) break;
      this.end(k);
    }
  }
}

function hash(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

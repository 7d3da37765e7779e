// How a browser's console session authorizes API requests: the cookie, and the
// checks against cross-site request forgery. The cookie is SameSite=Strict, so a
// browser does not send it on requests another site starts. On top of that, a
// state-changing request (anything but GET/HEAD/OPTIONS) authorized by the cookie
// must show where it comes from: an Origin Parley knows (browsers send Origin on
// every POST/PUT/DELETE, same-origin ones included), or, when there is no Origin
// or it is `null` (privacy modes), the `X-Parley-Console: 1` header, which a page
// of another site cannot set without a CORS preflight that Parley never answers.
// Another Origin is refused whatever the headers. The WebSocket upgrade of the
// event stream (a GET, outside CORS) must come from a known Origin.
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../api-error.ts';
import type { ConsoleSession, ConsoleSessions } from './console-sessions.ts';

export const SESSION_COOKIE = 'parley_console';
export const CSRF_HEADER = 'x-parley-console';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface ConsoleAuthOptions {
  secureCookie: 'auto' | 'always';
  /** Origins besides the request's own host (a reverse proxy's public URL). */
  origins: string[];
}

export class ConsoleAuth {
  private readonly origins: Set<string>;

  constructor(
    readonly sessions: ConsoleSessions,
    private readonly options: ConsoleAuthOptions,
  ) {
    this.origins = new Set(options.origins.map((o) => o.toLowerCase()));
  }

  /** The request's session cookie value, if it has one. */
  cookie(req: FastifyRequest): string | undefined {
    return readCookie(req.headers.cookie, SESSION_COOKIE);
  }

  /**
   * The session that authorizes `req`, null when it has no console cookie.
   * Throws 401 for a stale or forged cookie, 403 for a request that fails the CSRF checks.
   */
  authorize(req: FastifyRequest): ConsoleSession | null {
    const id = this.cookie(req);
    if (id === undefined) return null;
    const session = this.sessions.get(id);
    if (!session) throw new ApiError(401, 'unauthorized', 'the console session is unknown or expired: sign in again');
    this.checkOrigin(req);
    return session;
  }

  /** The CSRF checks for a request carrying the cookie (and for the sign-in itself). */
  checkOrigin(req: FastifyRequest): void {
    const origin = req.headers.origin;
    const upgrade = req.headers.upgrade?.toLowerCase() === 'websocket';
    if (!SAFE_METHODS.has(req.method)) {
      if (origin === undefined || origin === 'null') {
        if (req.headers[CSRF_HEADER] !== '1') throw new ApiError(403, 'forbidden', `a console request that changes something must come from the console's origin or carry ${CSRF_HEADER}: 1`);
      } else if (!this.knownOrigin(req, origin)) {
        throw new ApiError(403, 'forbidden', `origin ${origin} may not act on this console`);
      }
    } else if (upgrade && (origin === undefined || !this.knownOrigin(req, origin))) {
      throw new ApiError(403, 'forbidden', `origin ${origin ?? '(none)'} may not open this console's event stream`);
    }
  }

  /** Set-Cookie for a new session. */
  setCookie(req: FastifyRequest, id: string): string {
    return `${SESSION_COOKIE}=${id}; Path=/; Max-Age=${this.sessions.ttlSec}; HttpOnly; SameSite=Strict${this.secure(req) ? '; Secure' : ''}`;
  }

  /** Set-Cookie that removes the cookie (sign-out). */
  clearCookie(req: FastifyRequest): string {
    return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${this.secure(req) ? '; Secure' : ''}`;
  }

  private secure(req: FastifyRequest): boolean {
    return this.options.secureCookie === 'always' || req.protocol === 'https';
  }

  private knownOrigin(req: FastifyRequest, origin: string): boolean {
    const o = origin.toLowerCase();
    if (this.origins.has(o)) return true;
    const host = req.headers.host?.toLowerCase();
    return host !== undefined && o === `${req.protocol}://${host}`;
  }
}

/** One cookie's value from a Cookie header (RFC 6265 §5.4: `name=value` pairs separated by `; `). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

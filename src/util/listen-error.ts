// A bind failure that names the config key it came from, so that start-up can say which
// key to change: `sip.listen.1: cannot listen on udp 127.0.0.1:5060: bind EADDRINUSE …`.
// The cause's code (EADDRINUSE, EADDRNOTAVAIL, EACCES) is kept, and the key, host and port.

export interface ListenFailure extends Error {
  code?: string;
  /** The config key of the listener: `sip.listen.0`, `sip.control`, `api`. */
  key: string;
  host: string;
  port: number;
}

export function listenError(key: string, l: { transport: string; host: string; port: number }, err: unknown): ListenFailure {
  const cause = err as NodeJS.ErrnoException;
  const named = new Error(`${key}: cannot listen on ${l.transport} ${l.host}:${l.port}: ${cause?.message ?? String(err)}`, { cause: err });
  return Object.assign(named, { code: cause?.code, key, host: l.host, port: l.port });
}

export function isListenFailure(err: unknown): err is ListenFailure {
  return err instanceof Error && typeof (err as Partial<ListenFailure>).key === 'string' && typeof (err as Partial<ListenFailure>).port === 'number';
}

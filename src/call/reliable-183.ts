// RFC 3262 reliable provisional responses on an incoming INVITE: whether the caller asks for
// or allows them, and a reliable 183 whose PRACK the caller's code hears of.
import type Srf from 'drachtio-srf';
import type { Logger } from '../util/logger.ts';

/** drachtio-srf's send(status, opts, sent, prack): its typings leave out the PRACK callback and the message `sent` gets. */
interface ReliableSend {
  send(status: number, opts: { headers: Record<string, string>; body: string }, sent: (err: unknown, msg?: SentResponse) => void, prack: (req: Srf.SrfRequest) => void): void;
}

/** The response as the SIP server sent it (drachtio-srf's send callback gets it). */
export interface SentResponse {
  get(name: string): string | undefined;
}

/** The To tag the SIP server gave a response it sent (null when unknown). */
export function sentToTag(msg: SentResponse | undefined): string | null {
  return /;\s*tag\s*=\s*([^;>\s]+)/i.exec(msg?.get('To') ?? '')?.[1] ?? null;
}

/** The caller sent `Require: 100rel`: every provisional but a 100 must be reliable (RFC 3262 §3). */
export function requires100rel(req: Srf.SrfRequest): boolean {
  return /\b100rel\b/i.test(req.get('Require') ?? '');
}

/** The caller supports or requires 100rel. */
export function supports100rel(req: Srf.SrfRequest): boolean {
  return /\b100rel\b/i.test(`${req.get('Supported') ?? ''},${req.get('Require') ?? ''}`);
}

/**
 * Sends a reliable 183 with `sdp`; `onPrack` gets its PRACK, `onFail` a failure to send it,
 * `onSent` the 183 as sent (its To tag names the early dialog).
 */
export function sendReliable183(
  res: Srf.SrfResponse,
  sdp: string,
  log: Logger,
  onPrack: (req: Srf.SrfRequest) => void,
  onFail: () => void = () => undefined,
  onSent: (msg: SentResponse | undefined) => void = () => undefined,
): void {
  (res as unknown as ReliableSend).send(
    183,
    { headers: { Require: '100rel' }, body: sdp },
    (err: unknown, msg?: SentResponse) => {
      if (!err) return onSent(msg);
      log.warn({ err }, 'reliable 183 not sent');
      onFail();
    },
    onPrack,
  );
}

/**
 * A reliable 183 (sendReliable183) whose PRACK `acked` waits for: resolved by the PRACK, a
 * failure to send the 183, settle() (the call ended), or 64*T1 + 1 s without any of them. Then
 * (RFC 3262 §3) the INVITE is rejected with a 5xx: the SIP server's own timer sends it at 64*T1
 * (the embedded server: 500 No PRACK) without telling the app, so this one, a second later,
 * calls `onNoPrack` to end the call (whose 500 goes out where the server sent none).
 */
export function awaitPrack(
  res: Srf.SrfResponse,
  sdp: string,
  log: Logger,
  t1Ms: number,
  onSent: (msg: SentResponse | undefined) => void,
  onNoPrack: () => void,
): { acked: Promise<void>; settle: () => void } {
  let resolve!: () => void;
  const acked = new Promise<void>((r) => (resolve = r));
  let timer: NodeJS.Timeout | null = setTimeout(() => {
    timer = null;
    log.warn({ afterMs: 64 * t1Ms }, 'no PRACK for the reliable 183: the INVITE is rejected (500 No PRACK) and the call ends');
    resolve();
    onNoPrack();
  }, 64 * t1Ms + 1000);
  const settle = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
    resolve();
  };
  sendReliable183(res, sdp, log, settle, settle, onSent);
  return { acked, settle };
}

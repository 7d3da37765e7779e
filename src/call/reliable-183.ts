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

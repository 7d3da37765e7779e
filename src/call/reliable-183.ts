// RFC 3262 reliable provisional responses on an incoming INVITE: whether the caller asks for
// or allows them, and a reliable 183 whose PRACK the caller's code hears of.
import type Srf from 'drachtio-srf';
import type { Logger } from '../util/logger.ts';

/** drachtio-srf's send(status, opts, sent, prack): its typings leave out the PRACK callback. */
interface ReliableSend {
  send(status: number, opts: { headers: Record<string, string>; body: string }, sent: (err: unknown) => void, prack: (req: Srf.SrfRequest) => void): void;
}

/** The caller sent `Require: 100rel`: every provisional but a 100 must be reliable (RFC 3262 §3). */
export function requires100rel(req: Srf.SrfRequest): boolean {
  return /\b100rel\b/i.test(req.get('Require') ?? '');
}

/** The caller supports or requires 100rel. */
export function supports100rel(req: Srf.SrfRequest): boolean {
  return /\b100rel\b/i.test(`${req.get('Supported') ?? ''},${req.get('Require') ?? ''}`);
}

/** Sends a reliable 183 with `sdp`; `onPrack` gets its PRACK, `onFail` a failure to send it. */
export function sendReliable183(res: Srf.SrfResponse, sdp: string, log: Logger, onPrack: (req: Srf.SrfRequest) => void, onFail: () => void = () => undefined): void {
  (res as unknown as ReliableSend).send(
    183,
    { headers: { Require: '100rel' }, body: sdp },
    (err: unknown) => {
      if (!err) return;
      log.warn({ err }, 'reliable 183 not sent');
      onFail();
    },
    onPrack,
  );
}

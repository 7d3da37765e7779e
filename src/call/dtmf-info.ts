// An INFO on a leg, from the caller (answerCallerInfo) or from a leg Parley placed (a
// bridge's callee, a room's dialled member): DTMF (`application/dtmf-relay`,
// `application/dtmf`) is that leg's digit, as its RFC 4733 events are; any other INFO gets 200.
import type Srf from 'drachtio-srf';
import type { MediaLeg } from '../media-plane/media-api.ts';
import type { Logger } from '../util/logger.ts';
import type { DigitDemand } from './digit-demand.ts';

/** The caller's INFO (SipCall.onInfo): as answerLegInfo, and a DTMF one tells `digits` the caller sends its keys that way. */
export function answerCallerInfo(leg: MediaLeg, digits: DigitDemand, req: Srf.SrfRequest, res: Srf.SrfResponse, log: Logger): void {
  const type = req.get('Content-Type') ?? '';
  if (!/application\/(dtmf-relay|dtmf)/i.test(type)) {
    res.send(200);
    return;
  }
  try {
    if (!leg.isClosed) leg.handleSipInfo(type, req.body ?? '');
    digits.sipInfoSeen();
    res.send(200);
  } catch (err) {
    log.warn({ err }, 'bad DTMF INFO');
    res.send(400);
  }
}

/** Answers `req`: 200 with its digit taken (none once the leg is closed), 400 for a DTMF body that cannot be read. */
export function answerLegInfo(leg: MediaLeg, req: Srf.SrfRequest, res: Srf.SrfResponse, log: Logger, fields: Record<string, unknown>, what: string): void {
  const type = req.get('Content-Type') ?? '';
  if (!/application\/(dtmf-relay|dtmf)/i.test(type)) {
    res.send(200);
    return;
  }
  try {
    const e = leg.isClosed ? null : leg.handleSipInfo(type, req.body ?? '');
    log.info({ ...fields, digit: e?.digit, flash: e === null && !leg.isClosed ? true : undefined }, `DTMF INFO from ${what}`);
    res.send(200);
  } catch (err) {
    log.warn({ ...fields, err }, `bad DTMF INFO from ${what}`);
    res.send(400);
  }
}

// A wait for the final response of an INVITE Parley placed (a B leg, a transfer's target, a
// dial-out) that may be given up first: the caller left, the transfer was abandoned, the ring
// timeout came, the leg was kicked. The INVITE may have had no provisional response yet, and
// then no CANCEL may go (RFC 3261 §9.1: the SIP core holds it until one comes), so nothing waits
// for the INVITE: it ends on its own. A 2xx that comes instead is ACKed (drachtio-srf) and ended
// with a BYE here (§13.2.2.4); a failure, or timer B with nothing heard, just ends it.
import type { Logger } from '../util/logger.ts';
import { destroyDialog } from './dialog-util.ts';
import type { HeldDialog } from './held-dialog.ts';

export class DialWait {
  private settle: () => void = () => undefined;
  private readonly givenUp = new Promise<null>((resolve) => (this.settle = () => resolve(null)));

  /** The wait ends now (idempotent): answer() gives null. */
  giveUp(): void {
    this.settle();
  }

  /**
   * `dialing`'s dialog, or null once the wait was given up before it settled: the INVITE then
   * ends on its own (see above), and `ended` runs once it has (answered and hung up, or failed).
   */
  async answer(dialing: Promise<HeldDialog>, log: Logger, what: Record<string, unknown>, ended: () => void = () => undefined): Promise<HeldDialog | null> {
    const first = await Promise.race([dialing, this.givenUp]);
    if (first !== null) return first;
    dialing.then(
      (late) => {
        log.info(what, 'answered after its wait was given up: ended');
        destroyDialog(late.dialog, log);
        late.release();
        ended();
      },
      () => ended(),
    );
    return null;
  }
}

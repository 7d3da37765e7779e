// An outgoing dialog (srf.createUAC) whose in-dialog requests are held from the moment
// drachtio-srf makes it until its owner has put its listeners on (release()).
//
// drachtio-srf makes the dialog when the 200 arrives and may hand it the next message from the
// SIP server in the same turn (a BYE or re-INVITE right behind the 200, one read), long before an
// `await createUAC()` resumes; and an owner applies the answer (a media-thread round trip) before
// it can take a re-INVITE. Without listeners drachtio-srf answers on its own: a BYE is 200ed and
// the dialog dropped, so the call, room and recording outlived the callee; a re-INVITE got the
// first SDP back as its answer. Held here, each is handed to the owner's listeners in order.
import type { EventEmitter } from 'node:events';
import type Srf from 'drachtio-srf';
import type { LegMarker } from '../policy/loop-marker.ts';
import type { Logger } from '../util/logger.ts';

/** The dialog events that carry a peer's request (or its BYE), held until release(). */
const HELD_EVENTS = ['destroy', 'modify', 'update', 'info', 'refer'] as const;

type Holder = (...args: unknown[]) => void;

export class HeldDialog {
  private held: Array<{ event: string; args: unknown[] }> | null = [];
  private readonly holders = new Map<string, Holder>();

  /** `answer`: the SDP of the 200, read when the dialog was made (a held re-INVITE replaces dialog.remote.sdp). */
  constructor(
    readonly dialog: Srf.Dialog,
    readonly answer: string,
    private readonly log: Logger,
  ) {
    for (const event of HELD_EVENTS) {
      const holder: Holder = (...args) => this.held?.push({ event, args });
      this.holders.set(event, holder);
      (dialog as EventEmitter).on(event, holder);
    }
  }

  /**
   * Hands what was held to the listeners now on the dialog, in the order it came; from now on
   * drachtio-srf emits straight to them. A request nobody listens for (the owner gave the
   * dialog up) gets 487 (RFC 3261 §15.1.2 by analogy: the dialog is ending). Idempotent.
   */
  release(): void {
    const held = this.held;
    if (!held) return;
    this.held = null;
    for (const [event, holder] of this.holders) this.dialog.off(event, holder);
    this.holders.clear();
    for (const { event, args } of held) {
      this.log.debug({ event }, 'held in-dialog event released');
      if (this.dialog.listenerCount(event) > 0) this.dialog.emit(event, ...args);
      else if (event !== 'destroy') (args[1] as Srf.SrfResponse).send(487);
    }
  }
}

/**
 * srf.createUAC with the new dialog's requests held (HeldDialog) from the moment drachtio-srf
 * makes it, inside its callback; rejects as createUAC does (a SipError with the final status).
 * `marker`: Parley's loop marker; headers that carry it are sealed (LoopMarker.seal: a Call-ID
 * and From tag of Parley's own, the stamp bound to them), the leg held as placed until its
 * INVITE's final response.
 */
export function createUac(
  srf: Srf,
  uri: string,
  opts: Srf.CreateUACOptions,
  progress: { cbRequest?: (req: Srf.SrfRequest) => void; cbProvisional?: (res: Srf.SrfResponse) => void },
  log: Logger,
  marker?: LegMarker,
): Promise<HeldDialog> {
  const headers = { ...opts.headers };
  const placed = marker?.seal?.(headers) ?? ((): void => undefined);
  return new Promise((resolve, reject) => {
    try {
      srf.createUAC(uri, { ...opts, headers }, progress, (err: unknown, dialog: Srf.Dialog) => {
        placed();
        if (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        resolve(new HeldDialog(dialog, dialog.remote.sdp ?? '', log));
      });
    } catch (err) {
      placed();
      throw err;
    }
  });
}

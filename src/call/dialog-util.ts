// drachtio-srf's Dialog.destroy() returns a promise that rejects when the dialog
// is already gone (the other side's BYE crossed ours). Hang-ups are fire and
// forget here: pass a callback so nothing is left unhandled, and log the outcome.
import type Srf from 'drachtio-srf';
import type { Logger } from '../util/logger.ts';

export function destroyDialog(dialog: Srf.Dialog, log: Logger, headers?: Record<string, string>): void {
  try {
    dialog.destroy(headers ? { headers } : undefined, (err: unknown) => {
      if (err) log.debug({ err }, 'BYE not sent (dialog already gone)');
    });
  } catch (err) {
    log.debug({ err }, 'BYE not sent');
  }
}

// Owns the dialogs: by drachtio dialog id (for the app) and by Call-ID + tags (for the network).
import type { Dialog } from './dialog.ts';
import { Dialog as D } from './dialog.ts';
import type { Uas2xxRetransmitter } from './uas-2xx-retransmitter.ts';

export class DialogLayer {
  private readonly byId = new Map<string, Dialog>();
  private readonly byMatch = new Map<string, Dialog>();
  private readonly byCallId = new Map<string, Set<Dialog>>();
  private readonly retransmitters = new Map<string, Uas2xxRetransmitter>();

  get size(): number {
    return this.byId.size;
  }

  add(d: Dialog): void {
    // drachtio's id (Call-ID and the From tag of the INVITE) is the same for both ends of a call
    // Parley placed to itself (an agent transferring a caller to a menu of this Parley): the
    // end made second (the UAC's, made by the UAS's answer) gets its role appended, so that the
    // app drives each end as its own dialog. (An early dialog made confirmed is the same object;
    // one replaced by its own side's next keeps the id.)
    const other = this.byId.get(d.id);
    if (other && other !== d && other.role !== d.role) d.id = `${d.id};${d.role}`;
    this.byId.set(d.id, d);
    this.byMatch.set(d.matchKey, d);
    const set = this.byCallId.get(d.callId) ?? new Set<Dialog>();
    set.add(d);
    this.byCallId.set(d.callId, set);
  }

  get(id: string): Dialog | undefined {
    return this.byId.get(id);
  }

  match(callId: string, localTag: string, remoteTag: string): Dialog | undefined {
    return this.byMatch.get(D.matchKey(callId, localTag, remoteTag));
  }

  /** Any dialog with this Call-ID (step 4 of drachtio's app request routing). */
  findByCallId(callId: string): Dialog | undefined {
    const set = this.byCallId.get(callId);
    return set ? set.values().next().value : undefined;
  }

  setRetransmitter(d: Dialog, r: Uas2xxRetransmitter): void {
    this.retransmitters.get(d.id)?.cancel();
    this.retransmitters.set(d.id, r);
  }

  retransmitter(d: Dialog): Uas2xxRetransmitter | undefined {
    return this.retransmitters.get(d.id);
  }

  remove(d: Dialog): void {
    d.terminate();
    this.retransmitters.get(d.id)?.cancel();
    this.retransmitters.delete(d.id);
    if (this.byId.get(d.id) === d) this.byId.delete(d.id);
    if (this.byMatch.get(d.matchKey) === d) this.byMatch.delete(d.matchKey);
    const set = this.byCallId.get(d.callId);
    set?.delete(d);
    if (set && !set.size) this.byCallId.delete(d.callId);
  }

  all(): Dialog[] {
    return [...this.byId.values()];
  }

  close(): void {
    for (const d of this.all()) this.remove(d);
  }
}

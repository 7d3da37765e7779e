// A raw caller bridged to a raw callee by Parley (flows that answer, maybe record, and bridge
// to the Request-URI): both SIP ends driven by hand over UDP (RawSipClient), each with an RTP
// peer sending its tone (caller 1000 Hz, callee 600 Hz), for e2e tests of what happens inside
// a connected bridge (holds, transfers, hang-ups). Parley's control API must be on (its events
// are collected).
import assert from 'node:assert/strict';
import type { ApiEvent } from '../../src/api/event-hub.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer, type RtpPeerOptions } from '../helpers/rtp-peer.ts';
import { callEnd } from './helpers.ts';
import { bodyOf, RawDialog, responseTo, statusOf } from './raw-dialog.ts';

/** A raw caller bridged to a raw callee, both with RTP peers sending tones (caller 1000 Hz, callee 600 Hz). */
export interface Bridged {
  c: RawDialog;
  ua: RawSipClient;
  calleeUa: RawSipClient;
  phone: RtpPeer;
  calleePhone: RtpPeer;
  /** Parley's INVITE to the callee (the B leg's dialog). */
  invite: string;
  events: ApiEvent[];
  ended: ReturnType<typeof callEnd>;
  calleeCseq: number;
}

/** `callee`: more of the callee's RTP peer's options (a=ptime: a call the mixer does not forward). */
export async function bridge(parley: RunningParley, name: string, callee: Partial<RtpPeerOptions> = {}): Promise<Bridged> {
  const ua = await RawSipClient.open();
  const calleeUa = await RawSipClient.open();
  const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
  const calleePhone = await new RtpPeer({ codec: 'PCMU', latch: true, ...callee }).bind();
  const c = new RawDialog(ua, parley.sipPort, name, 'bob', `sip:bob@127.0.0.1:${calleeUa.port}`);
  const events: ApiEvent[] = [];
  parley.app.api!.hub.on('event', (e) => {
    if (e.data.callId === c.callId) events.push(e);
  });
  const ended = callEnd(parley, c.callId, 60_000);
  c.send('INVITE', phone.sdp());
  const invite = await calleeUa.nextMatching(/^INVITE /, 15_000);
  calleeUa.send(parley.sipPort, responseTo(invite, '200 OK', 'callee1', calleePhone.sdp(), calleeUa.port));
  await calleeUa.nextMatching(/^ACK /, 10_000);
  const ok = await c.final(15_000);
  assert.equal(statusOf(ok), 200, ok);
  c.confirm(ok);
  c.send('ACK', '', 1);
  phone.useRemoteSdp(bodyOf(ok));
  phone.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
  calleePhone.start({ kind: 'tone', freq: 600, amplitude: 8000 });
  const heard = await comesToHear(calleePhone, 1000, 0);
  assert.ok(heard.ok, `the callee hears the caller: ${heard.detail}`);
  return { c, ua, calleeUa, phone, calleePhone, invite, events, ended, calleeCseq: 10 };
}

/** Where a request from Parley came from (its top Via's port). */
export function portOf(req: string): number {
  return Number(/^Via:\s*SIP\/2\.0\/UDP [^:;\s]+:(\d+)/im.exec(req)![1]);
}

/** Closes both SIP clients and both RTP peers. */
export async function closeAll(b: Bridged | null): Promise<void> {
  if (!b) return;
  b.ua.close();
  b.calleeUa.close();
  await b.phone.close();
  await b.calleePhone.close();
}

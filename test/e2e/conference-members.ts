// Members of a conference room as raw SIP dialogs, each with a real RTP peer, and what each
// hears (conference-hold, conference-transfer).
import assert from 'node:assert/strict';
import { toneAmplitude } from '../helpers/audio-analysis.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { heardAfter } from '../helpers/peer-hearing.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { bodyOf, RawDialog, statusOf } from './raw-dialog.ts';

/** A raw dialog whose From names `who` (the roster is unique by URI). */
export class Member extends RawDialog {
  constructor(ua: RawSipClient, sipPort: number, private readonly who: string) {
    super(ua, sipPort, `conf-${who}`, 'room');
  }

  override req(method: string, body = '', n = this.cseq, branchOf = method): string {
    return super.req(method, body, n, branchOf).replace('From: <sip:adv@127.0.0.1>', `From: <sip:${this.who}@127.0.0.1>`);
  }
}

export interface Joined {
  who: string;
  d: Member;
  ua: RawSipClient;
  phone: RtpPeer;
}

export async function join(parley: RunningParley, who: string, hz: number | null): Promise<Joined> {
  const ua = await RawSipClient.open();
  const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
  const d = new Member(ua, parley.sipPort, who);
  const ok = await d.invite(phone.sdp());
  assert.equal(statusOf(ok), 200, ok);
  phone.useRemoteSdp(bodyOf(ok));
  phone.start(hz === null ? { kind: 'silence' } : { kind: 'tone', freq: hz, amplitude: 8000 });
  return { who, d, ua, phone };
}

/** A re-INVITE from a member with `direction` (a new o= version); Parley's 200, ACKed. */
export async function reoffer(m: Joined, direction: string): Promise<string> {
  m.d.cseq++;
  m.d.send('INVITE', m.phone.sdp([], direction).replace('o=peer 1 1 ', `o=peer 1 ${m.d.cseq} `));
  const ok = await m.d.finalTo(`${m.d.cseq} INVITE`);
  assert.equal(statusOf(ok), 200, ok);
  m.d.send('ACK', '', m.d.cseq);
  return ok;
}

/**
 * What `m` hears over one second starting about 200 ms from now: each tone's amplitude (full
 * scale 1; a member's tone arrives at about 0.24), the median over 100 ms blocks.
 */
export async function hearing(m: Joined, tones: number[]): Promise<Record<number, number>> {
  const pcm = await heardAfter(m.phone, m.phone.received.length);
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const amp = (hz: number): number => {
    const v: number[] = [];
    for (let s = 0; s + 800 <= pcm.length; s += 800) v.push(toneAmplitude(pcm, 8000, hz, s, 800));
    return median(v);
  };
  return Object.fromEntries(tones.map((hz) => [hz, amp(hz)]));
}

/** Whether `m` comes to hear `hz` at over 0.1 of full scale within `seconds` (the mix holds others too), and the last amplitude. */
export async function comesToHearTone(m: Joined, hz: number, seconds = 8): Promise<{ ok: boolean; amp: number }> {
  let amp = 0;
  for (let i = 0; i < seconds && amp <= 0.1; i++) amp = (await hearing(m, [hz]))[hz]!;
  return { ok: amp > 0.1, amp };
}

// A recorded call keeps what was said up to the hang-up. Each party's last packets wait in
// its jitter buffer (here 100 ms deep: media.mixer.jitterMinMs) when the BYE comes; they used
// to be dropped with the legs, so every recording stopped up to the buffer's depth short of
// what the other party heard (a forwarded call hears each packet as it comes). Now a leg that
// leaves hands its buffered audio to the recorders (leg-tails.ts) and the call's end plays
// every leg out into the recording before it stops (MediaRoom.playOut). Raw SIP on both sides,
// real RTP: each party ends its speech with 200 ms of its own marker tone and stops sending;
// 20 ms later one of them hangs up. Every marker frame sent must be in that party's stem.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { purity, readWavFile } from '../helpers/audio-analysis.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { parleyPerSuite, type RunningParley } from '../helpers/parley-harness.ts';
import { tempApiYaml } from '../helpers/api-client.ts';
import { finalSidecars, type Sidecar } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bridge, closeAll, portOf, type Bridged } from './raw-bridge.ts';
import { okTo, RECORDED_BRIDGE_YAML, statusOf } from './raw-dialog.ts';

const YAML = RECORDED_BRIDGE_YAML + tempApiYaml('tail-');
const MARKER_FRAMES = 10;

/** Both parties end with MARKER_FRAMES frames of their marker tone, then stop sending; the frames each sent of it. */
async function markersThenSilence(call: Bridged): Promise<{ caller: number; callee: number }> {
  const from = { caller: call.phone.sentAt.length, callee: call.calleePhone.sentAt.length };
  call.phone.setTone(1500);
  call.calleePhone.setTone(2000);
  const done = { caller: false, callee: false };
  const deadline = Date.now() + 5000;
  while (!(done.caller && done.callee) && Date.now() < deadline) {
    if (!done.caller && call.phone.sentAt.length - from.caller >= MARKER_FRAMES) {
      call.phone.stopSending();
      done.caller = true;
    }
    if (!done.callee && call.calleePhone.sentAt.length - from.callee >= MARKER_FRAMES) {
      call.calleePhone.stopSending();
      done.callee = true;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.ok(done.caller && done.callee, 'both markers sent');
  await new Promise((r) => setTimeout(r, 20));
  return { caller: call.phone.sentAt.length - from.caller, callee: call.calleePhone.sentAt.length - from.callee };
}

/** The callee's BYE in the B leg's dialog (we are its UAS: From and To swap). */
function calleeBye(call: Bridged): string {
  const h = (n: string): string => new RegExp(`\\r\\n${n}:\\s*([^\\r]+)`, 'i').exec(call.invite)![1]!;
  const target = /<([^>]+)>/.exec(h('Contact'))![1]!;
  return [
    `BYE ${target} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${call.calleeUa.port};branch=z9hG4bK-tail-${process.pid}-bye`,
    'Max-Forwards: 70',
    `From: ${h('To')};tag=callee1`,
    `To: ${h('From')}`,
    `Call-ID: ${h('Call-ID')}`,
    'CSeq: 20 BYE',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Milliseconds of `hz` at the end of a stem (10 ms windows where it is most of the signal), counted back from the last such window. */
function markerMs(pcm: Int16Array, rate: number, hz: number): number {
  const win = rate / 100;
  const marked: boolean[] = [];
  for (let at = 0; at + win <= pcm.length; at += win) marked.push(purity(pcm, rate, hz, at, win) > 0.8);
  let last = marked.lastIndexOf(true);
  let n = 0;
  while (last >= 0 && marked[last]) {
    n++;
    last--;
  }
  return n * 10;
}

async function stemsOf(parley: RunningParley, call: Bridged): Promise<{ caller: Int16Array; callee: Int16Array; rate: number }> {
  const meta: Sidecar = await waitFor('the final sidecar', () => finalSidecars(parley.recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === call.c.callId)), 15_000);
  const legs = meta.legs as Array<{ role: string; stems: Array<{ file: string }> }>;
  assert.equal(legs.length, 2, JSON.stringify(legs));
  const read = (caller: boolean) => readWavFile(join(parley.recordingDir, legs.find((l) => (l.role === 'caller') === caller)!.stems[0]!.file));
  const caller = read(true);
  return { caller: caller.samples, callee: read(false).samples, rate: caller.sampleRate };
}

describe('a recording ends with the last words of both parties', () => {
  const parley = parleyPerSuite(YAML, { media: 'mixer: { sampleRate: 16000, jitterMinMs: 100, jitterMaxMs: 100 }' });

  for (const who of ['caller', 'callee'] as const) {
    it(`the ${who} hangs up 20 ms after both stopped talking: each party's stem ends with every frame of its marker`, async () => {
      const call = await bridge(parley(), `tail-${who}`);
      assert.ok((await comesToHear(call.phone, 600, 0)).ok, 'the caller hears the callee');
      try {
        const sent = await markersThenSilence(call);
        if (who === 'caller') {
          call.c.cseq++;
          call.c.send('BYE');
          assert.equal(statusOf(await call.c.finalTo(`${call.c.cseq} BYE`)), 200);
          const bye = await call.calleeUa.nextMatching(/^BYE /, 10_000);
          call.calleeUa.send(portOf(bye), okTo(bye));
        } else {
          call.calleeUa.send(parley().sipPort, calleeBye(call));
          const bye = await call.ua.nextMatching(/^BYE /, 10_000);
          call.ua.send(parley().sipPort, okTo(bye));
        }
        await call.ended;
        await assertNothingLeft(parley());
        const { caller, callee, rate } = await stemsOf(parley(), call);
        const got = { caller: markerMs(caller, rate, 1500), callee: markerMs(callee, rate, 2000) };
        // A 10 ms window straddling the switch to the marker may not count: one window of slack.
        assert.ok(got.caller >= sent.caller * 20 - 10, `the caller's stem ends with ${got.caller} ms of its marker; it sent ${sent.caller * 20} ms`);
        assert.ok(got.callee >= sent.callee * 20 - 10, `the callee's stem ends with ${got.callee} ms of its marker; it sent ${sent.callee * 20} ms`);
      } finally {
        await closeAll(call);
      }
    });
  }
});

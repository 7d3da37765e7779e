// A caller of a recorded bridge that re-offers from PCMU to G.722 mid-call (a phone
// moving to wideband): its stem goes on without a hole. At the switch the caller's
// jitter buffer (here 100 ms deep: media.mixer.jitterMinMs) still holds its last PCMU
// frames. They used to be dropped: not decoded at all while the two PCMU legs were
// forwarded (the callee had heard them), and, when decoded, dropped again when the
// room moved from 8 to 16 kHz at the next tick (autoNarrowband). The stem lost the
// buffer's depth of the caller's words and then stayed silent while the new stream's
// buffer filled. Raw SIP on both sides, real RTP: the caller ends its PCMU speech with
// 200 ms of a marker tone, re-offers G.722 at once and, answered, talks on in G.722
// on another tone. Its stem must hold the whole marker, then the new tone, with no
// silence between them; in a forwarded call and in a mixed one. The caller goes on in
// PCMU for LATE_FRAMES after Parley's answer (a phone that switches a little late, or
// packets still in flight): RFC 3264 §8.3.2 lets the old formats arrive until the
// answer is in effect. They used to be refused as an unexpected payload type (the
// stem lost them); they are decoded with the old codec and belong in the stem.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { purity, readWavFile, rms } from '../helpers/audio-analysis.ts';
import { parleyPerSuite, type RunningParley } from '../helpers/parley-harness.ts';
import { apiBase, tempApiYaml, TEST_TOKEN } from '../helpers/api-client.ts';
import { finalSidecars, type Sidecar } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { bridge, closeAll, portOf } from './raw-bridge.ts';
import { okTo, RECORDED_BRIDGE_YAML, statusOf } from './raw-dialog.ts';

const YAML = RECORDED_BRIDGE_YAML + tempApiYaml('reoffer-codec-');
const MARKER_FRAMES = 10;
/** PCMU frames the caller sends after the 200 to its G.722 re-offer. */
const LATE_FRAMES = 3;
const MARKER_HZ = 1500;
const AFTER_HZ = 700;

/** The caller's offer of G.722 instead of PCMU (the same port, telephone-event kept), o= version `v`. */
function g722Offer(sdp: string, v: number): string {
  return sdp
    .replace('o=peer 1 1 ', `o=peer 1 ${v} `)
    .replace(/^m=audio (\d+) RTP\/AVP 0 /m, 'm=audio $1 RTP/AVP 9 ')
    .replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:9 G722/8000');
}

/** 10 ms windows of a stem: which tone each is (purity over 0.8), or silence, or other. */
function windows(pcm: Int16Array, rate: number): string[] {
  const win = rate / 100;
  const out: string[] = [];
  for (let at = 0; at + win <= pcm.length; at += win) {
    if (rms(pcm, at, win) < 0.01) out.push('.');
    else if (purity(pcm, rate, MARKER_HZ, at, win) > 0.8) out.push('M');
    else if (purity(pcm, rate, AFTER_HZ, at, win) > 0.8) out.push('A');
    else out.push('?');
  }
  return out;
}

/**
 * What the loaded machine did meanwhile (all nought on an idle one): packets of the old payload type that reached
 * Parley after its answer (this process stalled: its sender's catch-up ran before it read the 200), ticks of the room
 * run late or skipped, and how much later than 20 ms apart the caller's frames went out.
 */
async function disturbance(parley: RunningParley, sentAt: number[]): Promise<{ unexpectedPt: number; lateTicks: number; senderLateMs: number }> {
  const text = await (await fetch(`${apiBase(parley)}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).text();
  const sum = (re: RegExp): number => text.split('\n').filter((l) => re.test(l)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  let senderLateMs = 0;
  for (let i = 1; i < sentAt.length; i++) senderLateMs += Math.max(0, sentAt[i]! - sentAt[i - 1]! - 30);
  return {
    unexpectedPt: sum(/^parley_leg_rtp_dropped_packets\{.*cause="unexpected_pt"/),
    lateTicks: sum(/^parley_mixer_(late|skipped)_ticks\{/),
    senderLateMs: Math.round(senderLateMs),
  };
}

async function callerStem(parley: RunningParley, callId: string): Promise<{ pcm: Int16Array; rate: number }> {
  const meta: Sidecar = await waitFor('the final sidecar', () => finalSidecars(parley.recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === callId)), 15_000);
  const legs = meta.legs as Array<{ role: string; stems: Array<{ file: string }> }>;
  const wav = readWavFile(join(parley.recordingDir, legs.find((l) => l.role === 'caller')!.stems[0]!.file));
  return { pcm: wav.samples, rate: wav.sampleRate };
}

describe('a caller re-offering PCMU → G.722 in a recorded bridge', () => {
  const parley = parleyPerSuite(YAML, { media: 'mixer: { sampleRate: 16000, jitterMinMs: 100, jitterMaxMs: 100 }' });

  // Forwarded: two PCMU legs of 20 ms packets. Mixed: the callee asked for 30 ms packets (RTP forwarding would not fit them).
  for (const [how, callee] of [['forwarded', {}], ['mixed', { ptime: 30 }]] as const) {
    it(`${how}: its stem keeps every frame it sent before the switch and goes on into the new codec without silence`, async () => {
      const call = await bridge(parley(), `reoffer-g722-${how}`, callee);
      try {
        // The marker, then the re-offer as soon as it is out (the buffer then holds its last frames).
        const from = call.phone.sentAt.length;
        call.phone.setTone(MARKER_HZ);
        const deadline = Date.now() + 5000;
        while (call.phone.sentAt.length - from < MARKER_FRAMES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
        call.c.cseq++;
        call.c.send('INVITE', g722Offer(call.phone.sdp(), call.c.cseq));
        const ok = await call.c.finalTo(`${call.c.cseq} INVITE`);
        assert.equal(statusOf(ok), 200, ok);
        assert.match(ok, /^m=audio \d+ RTP\/AVP 9\b/m, 'G.722 answered');
        call.c.send('ACK', '', call.c.cseq);
        const answeredAt = call.phone.sentAt.length;
        while (call.phone.sentAt.length - answeredAt < LATE_FRAMES && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 1));
        call.phone.switchCodec('G722');
        call.phone.setTone(AFTER_HZ);
        const markerSent = call.phone.sentAt.length - from;
        await new Promise((r) => setTimeout(r, 1000));
        const load = await disturbance(parley(), call.phone.sentAt.slice(from));

        call.c.cseq++;
        call.c.send('BYE');
        assert.equal(statusOf(await call.c.finalTo(`${call.c.cseq} BYE`)), 200);
        const bye = await call.calleeUa.nextMatching(/^BYE /, 10_000);
        call.calleeUa.send(portOf(bye), okTo(bye));
        await call.ended;

        const { pcm, rate } = await callerStem(parley(), call.c.callId);
        const w = windows(pcm, rate);
        const first = w.indexOf('M');
        const last = w.lastIndexOf('M');
        const after = w.indexOf('A', last);
        assert.ok(first >= 0 && after > last, `the marker, then the new tone, in the caller's stem: ${w.join('')}`);
        const around = w.slice(Math.max(0, first - 5), after + 10).join('');
        // The marker as sent, the PCMU frames after the answer too (one 10 ms window straddling each of its ends may not
        // count), but for old packets refused (the control's unexpectedPt) when they came after the endpoint's grace
        // (300 ms after the answer): only when this process stalled that long (its sender's frames went out that late).
        const markerMs = w.slice(first, last + 1).filter((x) => x === 'M').length * 10;
        const pastGrace = load.senderLateMs >= 300 ? load.unexpectedPt : 0;
        // (and for ticks of the room run late or skipped: a stalled thread's jitter buffer overflows).
        const wantMs = markerSent * 20 - 20 - 20 * (pastGrace + load.lateTicks);
        assert.ok(markerMs >= wantMs, `${markerMs} ms of the marker in the stem; the caller sent ${markerSent * 20} ms of it (${markerSent - (answeredAt - from)} frames after the answer; the control: ${JSON.stringify(load)}): ${around}`);
        // Between the marker and the new tone: no silence (one frame at most, the codecs' edges), but for what the control measured.
        const silentMs = w.slice(last + 1, after).filter((x) => x === '.').length * 10;
        const allowedMs = 20 + 20 * (pastGrace + load.lateTicks) + load.senderLateMs;
        assert.ok(silentMs <= allowedMs, `${silentMs} ms of silence at the switch, ${allowedMs} allowed (the control: ${JSON.stringify(load)}): ${around}`);
      } finally {
        await closeAll(call);
      }
    });
  }
});

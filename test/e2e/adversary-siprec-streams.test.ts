// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A SIPREC client (SRC) that changes its streams mid-session, driven by hand over UDP: a
// stream added by a re-INVITE is recorded as its own stem; a re-INVITE that leaves out
// m-lines of the session (RFC 3264 §8 forbids it: a stream is removed by port 0) cannot be
// answered (an answer has as many m-lines as its offer) and is refused, the session unchanged.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActiveCall } from '../../src/call/call-manager.ts';
import { medianToneShare } from '../helpers/audio-analysis.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { finalSidecar, metadata, multipart, RawSrc } from './adversary-src.ts';
import { SIPREC_ROUTING, stemOf, TONES } from './siprec-helpers.ts';

/** An SRC offer with one sendonly PCMU stream per port (label i+1); port 0 removes a stream. */
function offer(ports: number[], version: number): string {
  const head = ['v=0', `o=src 1 ${version} IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
  const ms = ports.flatMap((p, i) => [`m=audio ${p} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', `a=label:${i + 1}`, 'a=sendonly']);
  return [...head, ...ms].join('\r\n') + '\r\n';
}

const mLines = (msg: string): string[] => msg.split('\r\n\r\n').slice(1).join('').match(/^m=.*$/gm) ?? [];

describe('adversary: a SIPREC client that changes its streams', () => {
  const parley = parleyPerSuite(SIPREC_ROUTING);

  it('a stream added by re-INVITE is recorded; a re-INVITE with fewer m-lines gets 488 and the streams it left out go on being recorded', async () => {
    const p = parley();
    const calls = p.app.calls!;
    const ua = await RawSipClient.open();
    const tones = [TONES.A, TONES.B, TONES.C];
    const peers = await Promise.all(tones.map(() => new RtpPeer({ codec: 'PCMU', latch: false }).bind()));
    const ports = peers.map((x) => x.port);
    try {
      const src = new RawSrc(ua, p.sipPort);
      const started = new Promise<ActiveCall>((resolve) => calls.once('callstart', resolve));
      const ended = new Promise<void>((resolve) => calls.once('callend', () => resolve()));
      assert.equal(await src.invite(multipart([['application/sdp', offer(ports.slice(0, 2), 1)], ['application/rs-metadata+xml', metadata(1)]])), 200);
      const call = await started;
      await waitFor('the SIPREC session answered', () => call.call.answered, 10_000);
      const send = (i: number): void => {
        peers[i]!.useRemoteSdp(call.call.room.leg(`s${i}`)!.localSdp);
        peers[i]!.start({ kind: 'tone', freq: tones[i]!, amplitude: 8000 });
      };
      /** Resolves once every peer that sends has sent `n` more 20 ms frames. */
      const frames = (n: number): Promise<unknown> => {
        const target = peers.map((x) => (x.sentAt.length > 0 ? x.sentAt.length + n : 0));
        return waitFor(`${n} more frames sent`, () => peers.every((x, i) => x.sentAt.length >= target[i]!) || undefined, 20_000);
      };
      send(0);
      send(1);
      await frames(50);

      const added = await src.reinvite('application/sdp', offer(ports, 2));
      assert.match(added, /^SIP\/2\.0 200 /);
      assert.equal(mLines(added).length, 3, 'three m-lines answered');
      assert.match(added, /a=label:3/);
      send(2);
      await frames(75);

      const fewer = await src.reinvite('application/sdp', offer(ports.slice(0, 1), 3));
      assert.match(fewer, /^SIP\/2\.0 488 /, `a re-offer without the m-lines of streams 2 and 3: ${fewer.split('\r\n')[0]}`);
      assert.match(fewer, /^Warning: 399 parley "[^"]*RFC 3264/m);
      assert.ok(call.call.room.leg('s1') && call.call.room.leg('s2'), 'the legs of streams 2 and 3 are kept');
      await frames(100);

      assert.equal(await src.request('BYE', null), 200);
      await ended;
      const meta = await finalSidecar(p, src.callId);
      assert.deepEqual(meta.legs.map((l) => l.id), ['s0', 's1', 's2']);
      for (const [i, hz] of tones.entries()) {
        const w = stemOf(p, meta, `s${i}`);
        // The last 1.5 s (the last 300 ms left out: tear-down): after the refused re-offer, each stream still its own tone.
        const tail = w.samples.subarray(w.samples.length - Math.round(w.sampleRate * 1.8), w.samples.length - Math.round(w.sampleRate * 0.3));
        assert.ok(medianToneShare(tail, hz, w.sampleRate) > 0.8, `stream ${i + 1}: its ${hz} Hz tone after the refused re-offer`);
        for (const other of tones.filter((t) => t !== hz)) assert.ok(medianToneShare(tail, other, w.sampleRate) < 0.1, `stream ${i + 1}: no ${other} Hz`);
      }
    } finally {
      ua.close();
      for (const x of peers) await x.close();
    }
  });
});

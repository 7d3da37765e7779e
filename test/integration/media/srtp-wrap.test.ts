// SRTP into a leg's own endpoint across a sequence-number wrap (issue 11): a
// peer sends SDES-SRTP starting at sequence 65,500, with comfort-noise packets
// (PT 13) in between, and the other leg keeps hearing its tone after the wrap:
// the endpoint's rollover counter follows the wrap and CN neither breaks the
// SRTP state nor reaches the mix as audio. Then the peer re-offers the same key
// (a hold, a session refresh): the crypto context goes on with its rollover
// counter (RFC 4568 §7.1.4), and the tone is still heard.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { G711Encoder } from '../../../src/mixer/codecs/g711-codec.ts';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { generateSrtpKeyBase64, SrtpSession, SUPPORTED_SRTP_SUITES } from '../../../src/media-plane/srtp/index.ts';
import { medianToneShare, tone } from '../../helpers/audio-analysis.ts';
import { collect, joinPeer, startEngine } from '../../helpers/media-harness.ts';
import { FramePacer } from '../../helpers/frame-pacer.ts';
import { buildRtp } from '../../helpers/rtp.ts';
import { waitFor } from '../../helpers/wait.ts';

// The suites run at once (each its own room, socket and peer): they wait on real time, not on the CPU.
describe('SRTP across a sequence wrap, with CN in between (real UDP)', { concurrency: true }, () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => engine.close());

  for (const suite of SUPPORTED_SRTP_SUITES) {
    it(`${suite}: the other leg hears the tone before and after the wrap`, async () => {
      const room = await engine.createRoom(`wrap-${suite}`);
      const b = await joinPeer(room, { codec: 'PCMU', id: 'b' });
      const sock = createSocket('udp4');
      sock.bind(0, '127.0.0.1');
      await once(sock, 'listening');
      const ourKey = generateSrtpKeyBase64(suite);
      const offerV = (version: number): string => [
        'v=0',
        `o=peer 1 ${version} IN IP4 127.0.0.1`,
        's=-',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        `m=audio ${sock.address().port} RTP/SAVP 0 13`,
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:13 CN/8000',
        'a=rtcp-mux',
        `a=crypto:1 ${suite} inline:${ourKey}`,
        'a=sendrecv',
        '',
      ].join('\r\n');
      const { leg, answer } = await room.createLeg(offerV(1), { id: 'a' });
      const m = /m=audio (\d+) RTP\/SAVP/.exec(answer);
      const key = /a=crypto:1 (\S+) inline:([A-Za-z0-9+/=]+)/.exec(answer);
      assert.ok(m && key, `an SRTP answer: ${answer}`);
      assert.equal(key[1], suite);
      const srtp = new SrtpSession({ suite, sendKeyBase64: ourKey, recvKeyBase64: key[2] });
      const port = Number(m[1]);

      const enc = new G711Encoder('ulaw');
      const payload = new Uint8Array(160);
      const ssrc = 0x1234abcd;
      let seq = 65_500;
      let ts = 1_000_000;
      let sample = 0;
      let sent = 0;
      let cn = 0;
      const pacer = new FramePacer((skipped) => {
        sample += skipped * 160;
        ts = (ts + skipped * 160) >>> 0;
        sent++;
        let pkt: Buffer;
        if (sent % 10 === 0) {
          // Comfort noise (RFC 3389): one byte, the noise level.
          pkt = buildRtp({ payloadType: 13, seq, timestamp: ts, ssrc, payload: Buffer.from([60]) });
          cn++;
        } else {
          const n = enc.encode(tone(440, 8000, 160, 8000, sample), payload);
          pkt = buildRtp({ payloadType: 0, seq, timestamp: ts, ssrc, payload: Buffer.from(payload.subarray(0, n)) });
        }
        sample += 160;
        seq = (seq + 1) & 0xffff;
        ts = (ts + 160) >>> 0;
        sock.send(srtp.protectRtp(pkt), port, '127.0.0.1');
      });
      pacer.start();
      try {
        // 36 packets to the wrap, then at least 4 s past it.
        await collect(b.peer, 60);
        const beforeWrap = await collect(b.peer, 25);
        while (sent < 36 + 200) await new Promise((r) => setTimeout(r, 100));
        const afterWrap = await collect(b.peer, 100);
        // Judged per 20 ms frame (the median): a stall of this loaded process's sender makes the room fill in
        // silence, which spoils every 100 ms window it falls in, but only its own frames.
        const shareBefore = medianToneShare(beforeWrap, 440, 8000, 20);
        const shareAfter = medianToneShare(afterWrap, 440, 8000, 20);
        assert.ok(shareBefore > 0.7, `heard before the wrap (${shareBefore.toFixed(2)} of the median frame)`);
        assert.ok(shareAfter > 0.7, `heard after the wrap (${shareAfter.toFixed(2)} of the median frame)`);
        // The same key offered again after the wrap: a new context would restart at ROC 0 and refuse every packet.
        const reanswer = await leg.applyOffer(offerV(2));
        assert.equal(/a=crypto:1 \S+ inline:([A-Za-z0-9+/=]+)/.exec(reanswer)?.[1], key[2], 'our key unchanged in the new answer');
        await collect(b.peer, 10);
        const afterReoffer = await collect(b.peer, 50);
        const shareReoffer = medianToneShare(afterReoffer, 440, 8000, 20);
        assert.ok(shareReoffer > 0.7, `heard after the re-offer (${shareReoffer.toFixed(2)} of the median frame)`);
        // With media threads the endpoint's counters are the thread's latest snapshot: wait (asking for fresh
        // ones) until the packets sent so far are in it; a loaded machine may run the thread that reads them late.
        const target = sent;
        await waitFor(`the endpoint took ${target - 5} of the ${target} packets sent`, async () => {
          await engine.nextStats();
          return (leg.endpoint?.stats.packetsIn ?? 0) >= target - 5;
        }, 15_000).catch((err: Error) => {
          throw new Error(`${err.message}: it took ${leg.endpoint?.stats.packetsIn}`);
        });
        const st = leg.endpoint!.stats;
        assert.equal(st.srtpFailures, 0, 'no packet failed SRTP authentication');
        assert.ok(cn >= 20, `CN packets were sent in between (${cn})`);
      } finally {
        pacer.stop();
        sock.close();
        await b.peer.close();
        room.close();
      }
    });
  }
});

// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// `a=rtcp:PORT IN IP4 ADDR` (RFC 3605 §2.1) says where the peer wants RTCP: a port, and an
// address that may be another host than c= (a media relay with RTCP apart, a phone with two
// interfaces). Parley took the port and sent RTCP to c='s address. A phone whose offer names
// 127.0.0.2 for RTCP (its RTP on 127.0.0.1) now gets Parley's reports there, on that port,
// and none at c='s address on it, until its own RTCP arrives from elsewhere (symmetric RTCP).
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apiYaml } from '../helpers/api-client.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, RawDialog, statusOf } from './raw-dialog.ts';

const yaml = `
routing:
  rules: [{ name: talk, match: { method: INVITE, media: audio }, actions: [{ app: talk }] }]
flows:
  talk:
    - answer
    - play: { tone: "silence:60000" }
    - hangup
`;

/** A UDP socket bound to `ip`:`port` (0: any free one), counting the RTCP packets (version 2, types 200-204) it receives. */
async function rtcpSink(ip: string, port = 0): Promise<{ socket: dgram.Socket; port: number; rtcp: () => number }> {
  const socket = dgram.createSocket('udp4');
  socket.bind(port, ip);
  await once(socket, 'listening');
  let n = 0;
  socket.on('message', (m) => {
    if (m.length >= 8 && m[0]! >> 6 === 2 && m[1]! >= 200 && m[1]! <= 204) n++;
  });
  return { socket, port: socket.address().port, rtcp: () => n };
}

describe('a=rtcp with an address (RFC 3605)', () => {
  const parley = parleyPerSuite(yaml + apiYaml(join(mkdtempSync(join(tmpdir(), 'field-')), 'rules.json')));

  it("RTCP goes to a=rtcp's address and port, not to c='s address", async () => {
    const apart = await rtcpSink('127.0.0.2');
    // The same port at c='s address: where RTCP went before.
    const decoy = await rtcpSink('127.0.0.1', apart.port).catch(() => null);
    const ua = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU', rtcpMux: false }).bind();
    const c = new RawDialog(ua, parley().sipPort, 'rtcp-address', 'talk');
    try {
      const offer = phone.sdp([`a=rtcp:${apart.port} IN IP4 127.0.0.2`]);
      const ok = await c.invite(offer);
      assert.equal(statusOf(ok), 200, ok);
      assert.doesNotMatch(bodyOf(ok), /^a=rtcp-mux/m, 'no rtcp-mux: RTCP has its own port');
      phone.useRemoteSdp(bodyOf(ok));
      phone.start({ kind: 'tone', freq: 440, amplitude: 8000 });
      // The first report goes out 1.25-3.75 s after negotiation (RFC 3550 §6.2).
      await waitFor("an RTCP report at a=rtcp's address", () => (apart.rtcp() > 0 ? true : undefined), 20_000);
      assert.equal(decoy?.rtcp() ?? 0, 0, "none at c='s address");
      // Symmetric RTCP: once the peer's own RTCP comes (here from c='s host on another port, as
      // through a NAT or an SBC that left a=rtcp unrewritten), the reports follow it there.
      const natted = await rtcpSink('127.0.0.1');
      const answer = bodyOf(ok);
      const rtcpPort = Number(/^a=rtcp:(\d+)/m.exec(answer)?.[1] ?? Number(/^m=audio (\d+)/m.exec(answer)![1]) + 1);
      const rr = Buffer.from([0x80, 201, 0, 1, 0x12, 0x34, 0x56, 0x78]); // an empty receiver report
      natted.socket.send(rr, rtcpPort, '127.0.0.1');
      const atApart = apart.rtcp();
      try {
        await waitFor('an RTCP report where the peer\'s RTCP came from', () => (natted.rtcp() > 0 ? true : undefined), 20_000);
        assert.ok(apart.rtcp() <= atApart + 1, `reports left a=rtcp's address (${apart.rtcp() - atApart} more there)`);
      } finally {
        natted.socket.close();
      }
      const ended = nextCallEnd(parley());
      c.cseq++;
      c.send('BYE');
      assert.equal(statusOf(await c.final()), 200);
      await ended;
      await assertNothingLeft(parley());
    } finally {
      ua.close();
      await phone.close();
      apart.socket.close();
      decoy?.socket.close();
    }
  });
});

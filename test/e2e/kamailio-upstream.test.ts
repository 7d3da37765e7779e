// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A real Kamailio (Debian) as the upstream proxy: it reroutes every new INVITE
// to Parley, except those carrying Parley's loop marker. A call from a SIPp
// caller reaches Parley through Kamailio; Parley's B leg goes back out through
// Kamailio (sip.outboundProxy) and reaches the callee without being rerouted to
// Parley again.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startKamailio, type RunningKamailio } from '../helpers/kamailio.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { freePort } from '../helpers/free-port.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { header, RawSipClient, request } from '../helpers/raw-sip-client.ts';
import { startSipp } from '../helpers/sipp.ts';
import { waitFor } from '../helpers/wait.ts';

const RAW_SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
import { nextCallEnd, received, SCENARIOS, sippOk, startCallee } from './helpers.ts';

describe('behind an upstream Kamailio that reroutes INVITEs to Parley', () => {
  let kamailio: RunningKamailio;
  let parley: RunningParley;
  let callsStarted = 0;

  before(async () => {
    const sipPort = await freePort();
    kamailio = await startKamailio({ parleyUri: `sip:127.0.0.1:${sipPort}`, markerHeader: 'X-Parley-Leg' });
    parley = await startParley(
      `
routing:
  loopMarker: { header: X-Parley-Leg, value: b2b }
  rules:
    - name: gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: record-notice }]
flows:
  record-notice:
    - answer: { early: true }
    - play: { prompt: record-notice, notice: true }
    - bridge: { ringTimeout: 10 }
`,
      { sipPort, outboundProxy: `sip:127.0.0.1:${kamailio.port}` },
    );
    parley.app.calls!.on('callstart', () => callsStarted++);
  });

  after(async () => {
    await parley?.stop();
    await kamailio?.stop();
  });

  it('the caller reaches the callee through Kamailio and Parley, with no loop', async () => {
    const callee = await startCallee('callee.xml', 1000);
    const rtp = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    rtp.start({ kind: 'tone', freq: 440, amplitude: 8000 });
    const ended = nextCallEnd(parley);
    const caller = await startSipp({
      scenario: `${SCENARIOS}/caller-rr.xml`,
      transport: 'udp',
      remote: `127.0.0.1:${kamailio.port}`,
      calls: 1,
      timeoutS: 30,
      extra: ['-key', 'to_uri', `sip:bob@127.0.0.1:${callee.port}`, '-key', 'rtpport', String(rtp.port), '-d', '2500', '-trace_msg'],
    });
    sippOk(await caller.done, 'caller');
    const calleeRun = await callee.done;
    sippOk(calleeRun, 'callee');
    await ended;
    const invites = received(calleeRun).filter((m) => /^INVITE /m.test(m));
    assert.equal(invites.length, 1, 'the callee got exactly one INVITE');
    assert.match(invites[0]!, /^X-Parley-Leg: b2b/m, 'it is Parley’s B leg');
    assert.match(invites[0]!, /^Via: SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK[^\r\n]*\r?\nVia: /m, 'it came through Kamailio (two Vias)');
    assert.equal(callsStarted, 1, 'Parley took the call once: the B leg was not rerouted back');
    const log = kamailio.log();
    assert.equal((log.match(/rerouting INVITE/g) ?? []).length, 1, `Kamailio rerouted one INVITE:\n${log.slice(-2000)}`);
    assert.equal((log.match(/relaying INVITE/g) ?? []).length, 1, 'and relayed the marked one');
    assert.ok(rtp.received.length > 50, 'the caller had media');
    await rtp.close();
    await callee.rtp.close();
  });

  it("a caller's own X-Parley-Leg does not get it past Parley: Kamailio removes it and reroutes the INVITE to Parley", async () => {
    const ua = await RawSipClient.open('127.0.0.2');
    try {
      const before = callsStarted;
      const r = request('INVITE', ua.port, { 'X-Parley-Leg': 'b2b', Via: `SIP/2.0/UDP 127.0.0.2:${ua.port};branch=z9hG4bK-spoof-${Date.now()}`, 'Content-Type': 'application/sdp' }, RAW_SDP);
      ua.send(kamailio.port, r.text.replace('INVITE sip:parley@127.0.0.1 ', 'INVITE sip:bob@127.0.0.1:9 '));
      await waitFor('Parley took the call', () => (callsStarted > before ? true : undefined), 10_000);
      const log = kamailio.log();
      assert.match(log, /marker from 127\.0\.0\.2, not Parley: removed/);
      const cancel = `CANCEL sip:bob@127.0.0.1:9 SIP/2.0\r\nVia: ${header(r.text, 'Via')}\r\nMax-Forwards: 70\r\nFrom: ${header(r.text, 'From')}\r\nTo: ${header(r.text, 'To')}\r\nCall-ID: ${r.callId}\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n`;
      ua.send(kamailio.port, cancel);
      await ua.nextMatching(/^SIP\/2\.0 487 /, 10_000, r.callId).catch(() => undefined);
    } finally {
      ua.close();
    }
  });
});

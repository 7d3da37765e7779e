// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A callee (or a dialled-out room member) that sends its next request right behind its 200:
// a BYE in the datagram after the 200, a re-INVITE right after the ACK. drachtio-srf makes the
// B leg's dialog when the 200 arrives and may hand it that request before Parley has put its
// listeners on (after the answer is applied); it must still reach Parley: the BYE ends the whole
// call (the caller gets a BYE, the recording is finalized, nothing left), the re-INVITE is
// answered from the leg (not with Parley's first offer, drachtio-srf's default).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RecordingMetadata } from '../../src/recording/metadata.ts';
import { apiBase, call } from '../helpers/api-client.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { contactUri, header, RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, okTo, rawCall, rawParleyPerSuite, RECORDED_BRIDGE_YAML, responseTo, rtpSink, statusOf } from './raw-dialog.ts';

const TAG = 'racing-callee';

/** A PCMU (`pt` 0) or PCMA (8) SDP at 127.0.0.1:`port`. */
function calleeSdp(port: number, version: number, pt: 0 | 8): string {
  const name = pt === 0 ? 'PCMU' : 'PCMA';
  return ['v=0', `o=callee 9 ${version} IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP ${pt}`, `a=rtpmap:${pt} ${name}/8000`, 'a=sendrecv'].join('\r\n') + '\r\n';
}

/** A request from the callee in the dialog of Parley's INVITE `invite` (answered with To tag TAG). */
function calleeRequest(invite: string, calleePort: number, method: string, seq: number, sdp = ''): string {
  return [
    `${method} ${contactUri(invite)} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${calleePort};branch=z9hG4bK-race-${method}-${seq}-${process.pid}-${Date.now()}`,
    'Max-Forwards: 70',
    `From: ${header(invite, 'To')};tag=${TAG}`,
    `To: ${header(invite, 'From')}`,
    `Call-ID: ${header(invite, 'Call-ID')}`,
    `CSeq: ${seq} ${method}`,
    `Contact: <sip:callee@127.0.0.1:${calleePort}>`,
    ...(sdp ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    sdp,
  ].join('\r\n');
}

/** The payload types of the first m=audio line of an SDP. */
const payloads = (sdp: string): string[] => /^m=audio \d+ [\w/]+ ([\d ]+)/m.exec(sdp)?.[1]?.trim().split(/\s+/) ?? [];

/** The recording sidecar with a leg of B-leg Call-ID `callId`, once it is finalized. */
function finalizedWithLeg(parley: RunningParley, callId: string): Promise<RecordingMetadata> {
  return waitFor('the finalized recording of the call', () => {
    for (const f of readdirSync(parley.recordingDir).filter((x) => x.endsWith('.json'))) {
      const m = JSON.parse(readFileSync(join(parley.recordingDir, f), 'utf8')) as RecordingMetadata;
      if (m.legs.some((l) => l.callId === callId)) return m.state === 'finalized' ? m : undefined;
    }
    return undefined;
  }, 20_000);
}

describe("a callee's request right behind its 200 reaches the bridge (real SIP over UDP)", () => {
  const parley = rawParleyPerSuite(RECORDED_BRIDGE_YAML);

  it('a BYE in the datagram after the 200 ends the whole call: the caller gets a BYE, the recording is finalized, nothing left', async () => {
    for (let i = 0; i < 3; i++) {
      const callee = await RawSipClient.open();
      const media = await rtpSink();
      const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
      const ended = nextCallEnd(parley());
      try {
        await rawCall(parley(), { name: `bye-race-${i}`, user: 'bob', to: `sip:bob@127.0.0.1:${callee.port}`, phone }, async (c, ua) => {
          const ok = await c.invite(phone.sdp());
          assert.equal(statusOf(ok), 200, ok);
          const invite = await callee.nextMatching(/^INVITE /, 15_000);
          // The 200 and the BYE back to back: drachtio-srf makes the dialog and gets the BYE in one go.
          callee.send(parley().sipPort, responseTo(invite, '200 OK', TAG, calleeSdp(media.port, 1, 0), callee.port));
          callee.send(parley().sipPort, calleeRequest(invite, callee.port, 'BYE', 1));
          const byeOk = await callee.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
          assert.match(byeOk, /^CSeq:\s*1 BYE\r?$/im, byeOk);
          assert.equal(statusOf(byeOk), 200);
          // The caller is hung up at once (before the fix: never, the call went on without its callee).
          await answerBye(ua, parley().sipPort, c.callId, 5_000);
          const { outcome } = await ended;
          assert.notEqual(outcome.reason, 'failed', JSON.stringify(outcome));
          const meta = await finalizedWithLeg(parley(), header(invite, 'Call-ID'));
          assert.notEqual(meta.endedAt, null, 'the recording ended');
          await assertNothingLeft(parley());
        });
      } finally {
        callee.close();
        media.socket.close();
      }
    }
  });

  it('a re-INVITE right behind the ACK is answered from the leg (PCMA only), not with the first offer', async () => {
    for (let i = 0; i < 3; i++) {
      const callee = await RawSipClient.open();
      const media = await rtpSink();
      const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
      const ended = nextCallEnd(parley());
      try {
        await rawCall(parley(), { name: `reinvite-race-${i}`, user: 'bob', to: `sip:bob@127.0.0.1:${callee.port}`, phone }, async (c) => {
          const ok = await c.invite(phone.sdp());
          assert.equal(statusOf(ok), 200, ok);
          const invite = await callee.nextMatching(/^INVITE /, 15_000);
          assert.ok(payloads(bodyOf(invite)).includes('0'), 'the first offer has PCMU');
          callee.send(parley().sipPort, responseTo(invite, '200 OK', TAG, calleeSdp(media.port, 1, 0), callee.port));
          await callee.nextMatching(/^ACK /, 10_000);
          // At once behind the ACK: a new offer, PCMA only.
          callee.send(parley().sipPort, calleeRequest(invite, callee.port, 'INVITE', 1, calleeSdp(media.port, 2, 8)));
          const res = await callee.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
          assert.match(res, /^CSeq:\s*1 INVITE\r?$/im, res);
          assert.equal(statusOf(res), 200, res);
          const answer = bodyOf(res);
          assert.deepEqual(payloads(answer).filter((p) => p === '0' || p === '8'), ['8'], `an answer to the PCMA offer, not the first offer:\n${answer}`);
          assert.notEqual(answer.trim(), bodyOf(invite).trim());
          callee.send(parley().sipPort, calleeRequest(invite, callee.port, 'ACK', 1).replace(/branch=[^\r]*/, `branch=z9hG4bK-race-ack-${i}-${process.pid}`));
          const calls = (await call(apiBase(parley()), 'GET', '/calls')).body as unknown[];
          assert.equal(calls.length, 1, 'the call goes on');
          // The caller hangs up: the callee gets Parley's BYE.
          c.cseq++;
          c.send('BYE');
          const bye = await callee.nextMatching(/^BYE /, 10_000);
          callee.send(parley().sipPort, okTo(bye));
          assert.equal(statusOf(await c.finalTo('2 BYE')), 200);
          await ended;
          await assertNothingLeft(parley());
        });
      } finally {
        callee.close();
        media.socket.close();
      }
    }
  });

  it("a caller's BYE crossing the callee's 200: the callee gets a BYE, nothing left", async () => {
    for (let i = 0; i < 5; i++) {
      const callee = await RawSipClient.open();
      const media = await rtpSink();
      const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
      const ended = nextCallEnd(parley());
      try {
        await rawCall(parley(), { name: `cross-${i}`, user: 'bob', to: `sip:bob@127.0.0.1:${callee.port}`, phone }, async (c) => {
          const ok = await c.invite(phone.sdp());
          assert.equal(statusOf(ok), 200, ok);
          const invite = await callee.nextMatching(/^INVITE /, 15_000);
          callee.send(parley().sipPort, responseTo(invite, '200 OK', TAG, calleeSdp(media.port, 1, 0), callee.port));
          c.cseq++;
          c.send('BYE');
          assert.equal(statusOf(await c.finalTo('2 BYE')), 200);
          const bye = await callee.nextMatching(/^BYE /, 5_000);
          callee.send(parley().sipPort, okTo(bye));
          await ended;
          await assertNothingLeft(parley());
        });
      } finally {
        callee.close();
        media.socket.close();
      }
    }
  });

  it('a member dialled into a room (control API) that sends a BYE right behind its 200 leaves the room: no room left', async () => {
    const base = apiBase(parley());
    for (let i = 0; i < 3; i++) {
      const callee = await RawSipClient.open();
      const media = await rtpSink();
      try {
        const dialled = call(base, 'POST', `/rooms/race-${i}/dial`, { to: `sip:carol@127.0.0.1:${callee.port}` });
        const invite = await callee.nextMatching(/^INVITE /, 15_000);
        callee.send(parley().sipPort, responseTo(invite, '200 OK', TAG, calleeSdp(media.port, 1, 0), callee.port));
        callee.send(parley().sipPort, calleeRequest(invite, callee.port, 'BYE', 1));
        const byeOk = await callee.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
        assert.equal(statusOf(byeOk), 200, byeOk);
        const r = await dialled;
        assert.equal(r.status, 201, r.text);
        // Before the fix the member stayed on the roster, its room open, for good.
        await waitFor('the room gone', async () => (await call(base, 'GET', `/rooms/race-${i}`)).status === 404, 5_000);
        await assertNothingLeft(parley());
      } finally {
        callee.close();
        media.socket.close();
      }
    }
  });

  it('a member dialled into a room that re-INVITEs right behind the ACK gets an answer from its leg', async () => {
    const base = apiBase(parley());
    const callee = await RawSipClient.open();
    const media = await rtpSink();
    try {
      const dialled = call(base, 'POST', '/rooms/race-reinvite/dial', { to: `sip:dave@127.0.0.1:${callee.port}` });
      const invite = await callee.nextMatching(/^INVITE /, 15_000);
      callee.send(parley().sipPort, responseTo(invite, '200 OK', TAG, calleeSdp(media.port, 1, 0), callee.port));
      await callee.nextMatching(/^ACK /, 10_000);
      callee.send(parley().sipPort, calleeRequest(invite, callee.port, 'INVITE', 1, calleeSdp(media.port, 2, 8)));
      const res = await callee.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
      assert.equal(statusOf(res), 200, res);
      assert.deepEqual(payloads(bodyOf(res)).filter((p) => p === '0' || p === '8'), ['8'], `an answer to the PCMA offer, not the first offer:\n${bodyOf(res)}`);
      callee.send(parley().sipPort, calleeRequest(invite, callee.port, 'ACK', 1).replace(/branch=[^\r]*/, `branch=z9hG4bK-race-ack-room-${process.pid}`));
      assert.equal((await dialled).status, 201);
      assert.equal((await call(base, 'DELETE', '/rooms/race-reinvite')).status, 200);
      const bye = await callee.nextMatching(/^BYE /, 10_000);
      callee.send(parley().sipPort, okTo(bye));
      await assertNothingLeft(parley());
    } finally {
      callee.close();
      media.socket.close();
    }
  });
});

// RFC 3261 §13.2.2.4 over a real socket: when a placed INVITE forks and two 2xx come back,
// the app gets one dialog, and the server ACKs the second fork's 2xx and ends it with a BYE.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSipClient } from '../../helpers/raw-sip-client.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';

function ok(invite: string, tag: string, contactPort: number): string {
  const h = (n: string) => new RegExp(`\\r\\n${n}: ([^\\r]+)`).exec(invite)?.[1] ?? '';
  return `SIP/2.0 200 OK\r\nVia: ${h('Via')}\r\nFrom: ${h('From')}\r\nTo: ${h('To')};tag=${tag}\r\nCall-ID: ${h('Call-ID')}\r\nCSeq: ${h('CSeq')}\r\n` +
    `Contact: <sip:${tag}@127.0.0.1:${contactPort}>\r\nContent-Type: application/sdp\r\nContent-Length: ${SDP.length}\r\n\r\n${SDP}`;
}

describe('forked 2xx to a placed INVITE', () => {
  let h: Harness;
  let peer: RawSipClient;

  before(async () => {
    h = await startHarness();
    peer = await RawSipClient.open();
  });
  after(() => {
    peer.close();
    h.close();
  });

  it('the first 2xx makes the dialog; the second is ACKed and BYEd by the server', async () => {
    const call = h.srf.createUAC(`sip:forked@127.0.0.1:${peer.port}`, { localSdp: SDP });
    const invite = await peer.nextMatching(/^INVITE /);
    const sipPort = h.server.sipPort('udp');
    peer.send(sipPort, ok(invite, 'forkA', peer.port));
    const dialog = await call;
    assert.equal(dialog.sip.remoteTag, 'forkA');
    const ackA = await peer.nextMatching(/^ACK /);
    assert.match(ackA, /tag=forkA/);
    peer.send(sipPort, ok(invite, 'forkB', peer.port));
    const ackB = await peer.nextMatching(/^ACK /);
    assert.match(ackB, /^ACK sip:forkB@/);
    const byeB = await peer.nextMatching(/^BYE /);
    assert.match(byeB, /^BYE sip:forkB@/);
    assert.match(byeB, /To: [^\r]*tag=forkB/);
    assert.equal(h.server.stats.dialogs, 1, 'only the first fork is a dialog');
    const ended = new Promise<void>((resolve) => {
      void (dialog.destroy() as unknown as Promise<unknown>).then(() => resolve(), () => resolve());
    });
    const byeA = await peer.nextMatching(/^BYE sip:forkA@/);
    const hdr = (n: string) => new RegExp(`\\r\\n${n}: ([^\\r]+)`).exec(byeA)?.[1] ?? '';
    peer.send(sipPort, `SIP/2.0 200 OK\r\nVia: ${hdr('Via')}\r\nFrom: ${hdr('From')}\r\nTo: ${hdr('To')}\r\nCall-ID: ${hdr('Call-ID')}\r\nCSeq: ${hdr('CSeq')}\r\nContent-Length: 0\r\n\r\n`);
    await ended;
  });
});

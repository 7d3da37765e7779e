// RFC 3261 §17.1.1.2 timer A when the event loop lags: a callee that answered at once must
// not get the INVITE again because Parley's loop ran its overdue timers before reading the
// answer from the socket (bench:calls at 60 calls/s: SIPp callees aborted on such INVITEs).
// Real SIP over loopback: the embedded server and drachtio-srf of the harness, a bare UDP
// callee in this process that answers 180 + 200 and then blocks the loop past T1; in the
// second case its answers queue behind 400 datagrams (a loop turn reads a few dozen); in the
// third the loop is never late but slow, every turn taking 30 ms while 600 datagrams drain.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';

/** Blocks the event loop (every timer due meanwhile is overdue when it returns). */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: the loop lags as it does under load
  }
}

describe('timer A after a lagging event loop', () => {
  let h: Harness;
  let s: dgram.Socket;
  const seen: string[] = [];
  let acked: () => void = () => undefined;
  /** Datagrams the callee sends Parley before its answers (they queue up during the stall). */
  let noise = 0;
  /** Instead of one stall: every loop turn takes 30 ms until the ACK comes. */
  let slowTurns = false;

  before(async () => {
    h = await startHarness({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    s.on('message', (m, rinfo) => {
      const text = m.toString();
      const method = /^([A-Z]+) /.exec(text)?.[1];
      if (!method) return; // keep-alive CRLF
      seen.push(method);
      const keep = text.split('\r\n').filter((l) => /^(via|from|to|call-id|cseq)\s*:/i.test(l));
      const answer = (status: string, body = ''): void => {
        const hdrs = keep.map((l) => (/^to\s*:/i.test(l) && !/tag=/.test(l) ? `${l};tag=callee` : l));
        const extra = body ? ['Content-Type: application/sdp'] : [];
        s.send([`SIP/2.0 ${status}`, ...hdrs, `Contact: <sip:callee@127.0.0.1:${s.address().port}>`, ...extra, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'), rinfo.port, rinfo.address);
      };
      if (method === 'INVITE') {
        if (seen.filter((x) => x === 'INVITE').length > 1) return; // a resent INVITE: counted, not answered
        // Keep-alives (CRLF) ahead of the answers: a loop turn reads only a few dozen datagrams.
        for (let i = 0; i < noise; i++) s.send('\r\n\r\n', rinfo.port, rinfo.address);
        answer('180 Ringing');
        answer('200 OK', SDP);
        if (slowTurns) {
          // Not one stall but slow turns: every turn of the loop now takes 30 ms, so no timer is
          // ever late by more than that, and the backlog drains a few dozen datagrams a turn.
          const spin = (): void => {
            block(30);
            if (slowTurns) setImmediate(spin);
          };
          setImmediate(spin);
          return;
        }
        // Both answers are on their way; the loop now stalls past T1 (500 ms) before it can read them.
        block(800);
      } else if (method === 'ACK') {
        acked();
      } else if (method === 'BYE') {
        answer('200 OK');
      }
    });
  });
  after(() => {
    s.close();
    h.close();
  });

  it('a response read in the poll phase after the stall stops the retransmission', async () => {
    const gotAck = new Promise<void>((r) => (acked = r));
    const dialog = await h.srf.createUAC(`sip:callee@127.0.0.1:${s.address().port}`, { localSdp: SDP });
    // The ACK follows the 200; a resent INVITE would have left before it (same socket, in order).
    await gotAck;
    assert.deepEqual(seen.filter((m) => m !== 'BYE'), ['INVITE', 'ACK']);
    dialog.destroy();
  });

  it('the same with the answers queued behind 400 other datagrams that came during the stall', async () => {
    seen.length = 0;
    noise = 400;
    const gotAck = new Promise<void>((r) => (acked = r));
    const dialog = await h.srf.createUAC(`sip:callee@127.0.0.1:${s.address().port}`, { localSdp: SDP });
    await gotAck;
    assert.deepEqual(seen.filter((m) => m !== 'BYE'), ['INVITE', 'ACK']);
    dialog.destroy();
  });

  it('a loop whose turns are slow but never late: the answers queued behind 600 datagrams are read before timer A resends', async () => {
    seen.length = 0;
    noise = 600;
    slowTurns = true;
    const gotAck = new Promise<void>((r) => (acked = () => {
      slowTurns = false;
      r();
    }));
    const dialog = await h.srf.createUAC(`sip:callee@127.0.0.1:${s.address().port}`, { localSdp: SDP });
    await gotAck;
    assert.deepEqual(seen.filter((m) => m !== 'BYE'), ['INVITE', 'ACK']);
    dialog.destroy();
  });
});

// RFC 3261 §18.2.2 over TCP when the peer half-closes: a client sends its request and ends its
// side (socket.end()) before the app answers. Node then ends Parley's side of that connection
// (allowHalfOpen off) and destroys it on the same turn of the event loop, but the transport forgot
// the connection only at its 'close', a phase later: an answer written in between went to the
// destroyed socket and was dropped without a word. It now goes as on a connection already gone:
// on a new connection to the Via's sent-by port, where the sender listens.
//
// The app answers in that window on purpose: on the next check phase after Parley's side of the
// connection saw the peer's FIN ('end', through the net.server.socket diagnostics channel), over
// the in-process control link (an embedded server), which hands the answer to the SIP core in
// microtasks of that same phase.
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { defaultConfig } from '../../../src/config/schema.ts';
import { connectSrf, type SrfConnection } from '../../../src/signaling/srf-connection.ts';
import { request } from '../../helpers/raw-sip-client.ts';
import { testLogger } from '../../helpers/sip-harness.ts';
import { waitFor } from '../../helpers/wait.ts';

type Handler = (req: Srf.SrfRequest, res: Srf.SrfResponse) => void;

describe('a response over TCP after the peer half-closed its connection', () => {
  let conn: SrfConnection;
  let tcpPort: number;
  let onOptions: Handler = (_req, res) => res.send(200);
  before(async () => {
    conn = await connectSrf({
      sip: { ...defaultConfig.sip, server: 'embedded', listen: [{ transport: 'tcp', host: '127.0.0.1', port: 0 }], control: { host: '127.0.0.1', port: 0, secret: 'half-close' } },
      log: testLogger(),
    });
    tcpPort = Number(/tcp\/127\.0\.0\.1:(\d+)/.exec(conn.hostports)?.[1]);
    (conn.srf as unknown as { options(h: Handler): void }).options((req, res) => onOptions(req, res));
    // The app's route for OPTIONS travels asynchronously: until it is in, the server answers 503.
    const warm = net.connect({ host: '127.0.0.1', port: tcpPort });
    let answers = '';
    warm.on('data', (d: Buffer) => (answers += d.toString('latin1')));
    await new Promise((r) => warm.once('connect', r));
    await waitFor('the app answers OPTIONS', () => {
      if (/^SIP\/2\.0 200 /m.test(answers)) return true;
      warm.write(request('OPTIONS', warm.localPort ?? 0, { Via: `SIP/2.0/TCP 127.0.0.1:${warm.localPort ?? 0};branch=z9hG4bK-warm-${Date.now()}` }).text);
      return undefined;
    });
    warm.destroy();
  });
  after(() => conn?.close());

  it('goes on a new connection to the Via sent-by port, not into the socket Node has just destroyed', async () => {
    let heard = '';
    const sentByServer = net.createServer((c) => c.on('data', (d: Buffer) => (heard += d.toString('latin1'))));
    await new Promise<void>((r) => sentByServer.listen(0, '127.0.0.1', r));
    after(() => sentByServer.close());
    const sentBy = (sentByServer.address() as net.AddressInfo).port;

    // Parley's ends of the connections it accepts, from the moment it accepts them.
    const accepted: net.Socket[] = [];
    const onAccept = (m: unknown): void => {
      const { socket } = m as { socket: net.Socket };
      if (socket.localPort === tcpPort) accepted.push(socket);
    };
    dc.subscribe('net.server.socket', onAccept);
    after(() => dc.unsubscribe('net.server.socket', onAccept));
    const client = net.connect({ host: '127.0.0.1', port: tcpPort });
    client.on('error', () => undefined);
    let got = '';
    client.on('data', (d: Buffer) => (got += d.toString('latin1')));
    await new Promise((r) => client.once('connect', r));
    const side = await waitFor("Parley's end of the connection", () => accepted.find((s) => s.remotePort === client.localPort));
    const asked = new Promise<Srf.SrfResponse>((resolve) => (onOptions = (_req, res) => resolve(res)));
    const r = request('OPTIONS', sentBy, { Via: `SIP/2.0/TCP 127.0.0.1:${sentBy};branch=z9hG4bK-half-close-${process.pid}` });
    client.write(r.text);
    const res = await asked;
    side.once('end', () => setImmediate(() => res.send(200, { headers: { 'X-Answered': 'after-fin' } })));
    client.end();
    await waitFor('the 200 on a new connection to the sent-by port', () => /^SIP\/2\.0 200 /m.test(heard), 5000);
    assert.match(heard, /^X-Answered: after-fin\r$/m);
    assert.match(heard, new RegExp(`branch=z9hG4bK-half-close-${process.pid}`));
    assert.doesNotMatch(got, /^SIP\/2\.0 200 /m, 'not on the connection the peer ended');
  });
});

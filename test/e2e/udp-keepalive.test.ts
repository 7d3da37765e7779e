// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// linphone (belle-sip) sends a CRLFCRLF keep-alive over UDP every 30 s to its proxy. Parley
// logged each one as "unparseable message dropped" (bad start line); a keep-alive is not a
// message: it is ignored silently and the phone's next request is handled as usual.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { captureLog, type LogCapture } from '../helpers/log-capture.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';

describe('UDP keep-alives (CRLFCRLF) from a phone', () => {
  let parley: RunningParley;
  let capture: LogCapture;

  before(async () => {
    capture = captureLog();
    parley = await startParley('', { log: capture.log });
  });
  after(async () => {
    await parley?.stop();
  });

  it('are ignored without a log line; an OPTIONS after them is answered 200', async () => {
    const sock = createSocket('udp4');
    sock.bind(0, '127.0.0.1');
    await once(sock, 'listening');
    const port = sock.address().port;
    const answered = new Promise<string>((resolve) => sock.on('message', (m) => resolve(m.toString('utf8'))));
    const send = (data: string): Promise<void> => new Promise((resolve, reject) => sock.send(data, parley.sipPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    await send('\r\n\r\n');
    await send('\r\n\r\n');
    const options = [
      `OPTIONS sip:127.0.0.1:${parley.sipPort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-ka-1;rport`,
      'Max-Forwards: 70',
      `From: <sip:carol@127.0.0.1:${port}>;tag=ka1`,
      `To: <sip:127.0.0.1:${parley.sipPort}>`,
      'Call-ID: keepalive-1@127.0.0.1',
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    await send(options);
    const res = await answered;
    sock.close();
    assert.match(res, /^SIP\/2\.0 200 /);
    assert.deepEqual(capture.find(/unparseable|dropped/), [], 'no line about the keep-alives');
  });
});

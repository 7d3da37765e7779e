// The minimal drachtio-srf UAS the SIP bench drives: answers every INVITE with createUAS.
// Runs in its own process (as an app does against a real drachtio-server).
import { defaultConfig } from '../src/config/schema.ts';
import { connectSrf } from '../src/signaling/srf-connection.ts';
import { createLogger } from '../src/util/logger.ts';
import { StepProbe } from './step-probe.ts';

const port = Number(process.argv[2]);
const secret = process.argv[3] ?? 'bench';
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';
const log = createLogger({ level: 'warn', pretty: false });
const conn = await connectSrf({ sip: { ...defaultConfig.sip, server: 'remote', control: { host: '127.0.0.1', port, secret } }, log });
conn.srf.invite((req, res) => {
  conn.srf.createUAS(req, res, { localSdp: SDP }).catch((err: unknown) => log.warn({ err }, 'createUAS failed'));
});
// The bench marks each step's start and end, and hears what this process did in between.
const probe = new StepProbe();
process.on('message', (m: { cmd?: string }) => {
  if (m.cmd === 'step-start') probe.reset();
  if (m.cmd === 'step-end') process.send?.({ stats: probe.snapshot() });
});
process.send?.('ready');
process.on('disconnect', () => {
  probe.stop();
  conn.close();
  process.exit(0);
});

// POST /calls/:id/recording/start on a call whose flow records nothing: the recording holds
// the call from then on and ends with the call. Before, nothing stopped it: the call's
// recording stayed open after its dialog (and its room) ended.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apiBase, call } from '../helpers/api-client.ts';
import { purity, readWavFile } from '../helpers/audio-analysis.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, holdYaml, rawCall, rawParleyPerSuite, statusOf } from './raw-dialog.ts';

describe('a recording started through the API', () => {
  const parley = rawParleyPerSuite(holdYaml(30_000));

  it('records the call from the request on and is finalized when the caller hangs up: nothing left open', async () => {
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    await rawCall(parley(), { name: 'api-rec', phone }, async (c) => {
      const ok = await c.invite(phone.sdp());
      assert.equal(statusOf(ok), 200, ok);
      phone.useRemoteSdp(bodyOf(ok));
      phone.start({ kind: 'tone', freq: 700, amplitude: 8000 });
      await phone.waitForPackets(10, 10_000);
      const res = await call(apiBase(parley()), 'POST', `/calls/${encodeURIComponent(c.callId)}/recording/start`);
      assert.equal(res.status, 200, res.text);
      const id = (res.body as { recording: string }).recording;
      assert.ok(id);
      await new Promise((r) => setTimeout(r, 1500));
      c.cseq++;
      c.send('BYE');
      assert.equal(statusOf(await c.final()), 200);
      await ended;
      await assertNothingLeft(parley());
      const meta = await waitFor('its final sidecar', () => finalSidecars(parley().recordingDir).find((m) => String(m.mix.file).startsWith(id)), 10_000);
      assert.equal(meta.state, 'finalized');
      assert.ok(meta.durationMs > 1200 && meta.durationMs < 3000, `${meta.durationMs} ms recorded`);
      const mix = readWavFile(join(parley().recordingDir, meta.mix.file));
      assert.ok(purity(mix.samples, mix.sampleRate, 700, 0, mix.samples.length) > 0.3, 'the caller\'s tone is in the mix');
    });
  });
});

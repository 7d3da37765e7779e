// An SRC that names its streams anew in every metadata update (thousands of updates in
// one session): the view keeps tying the stream to its sender, and what it remembers of
// the old names stays bounded (before, every name was kept, and every refresh looked
// each stream up in all of them).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SiprecView } from '../../../src/call/siprec-view.ts';

function version(n: number): string {
  return `<recording xmlns='urn:ietf:params:xml:ns:recording:1'><datamode>complete</datamode>
<participant participant_id="p1"><nameID aor="sip:alice@example.com"/><send>st-${n}</send></participant>
<participant participant_id="p2"><nameID aor="sip:bob@example.com"/></participant>
<stream stream_id="st-${n}"><label>1</label></stream></recording>`;
}

describe('adversary: SIPREC metadata renumbering its streams in every update', () => {
  it('3000 versions: the stream still resolves to its sender; remembered stream ids stay bounded', () => {
    const v = new SiprecView('cid');
    v.setStreams([{ index: 0, leg: 's0', label: '1', kind: 'audio' }]);
    for (let n = 1; n <= 3000; n++) assert.equal(v.addMetadata(version(n), 'UPDATE', `f${n}`), null);
    assert.equal(v.legInfos().get('s0')?.uri, 'sip:alice@example.com');
    const inner = v as unknown as { streamLabels: Map<string, unknown>; participants: { sendIds: string[] }[] };
    assert.ok(inner.streamLabels.size <= 1024, `stream ids remembered: ${inner.streamLabels.size}`);
    for (const p of inner.participants) assert.ok(p.sendIds.length <= 1024, `a participant's stream ids: ${p.sendIds.length}`);
    assert.equal(v.versionCount, 200);
    assert.ok(v.toSidecar().problems.some((x) => /not kept/.test(x)));
  });
});

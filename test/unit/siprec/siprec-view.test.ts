// The session view: metadata versions merged, streams tied to participants, stereo sides, pauses.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SiprecView } from '../../../src/call/siprec-view.ts';

const sample = (name: string): string => readFileSync(new URL(`../../fixtures/siprec/${name}`, import.meta.url), 'utf8');
const two = [
  { index: 0, leg: 's0', label: '96', kind: 'audio' },
  { index: 1, leg: 's1', label: '97', kind: 'audio' },
];
const labelled = [
  { index: 0, leg: 's0', label: '1', kind: 'audio' },
  { index: 1, leg: 's1', label: '2', kind: 'audio' },
];

interface Part {
  id: string;
  name: string;
  send?: string[];
}
const alice: Part = { id: 'PA', name: 'Alice', send: ['S1'] };
const bob: Part = { id: 'PB', name: 'Bob', send: ['S2'] };
const carol: Part = { id: 'PC', name: 'Carol', send: ['S2'] };
/** A complete RFC 7865 document: the participants, streams S1 (label 1) and S2 (label 2), their participantstreamassocs. */
function complete(parts: Part[], streams: [string, string][] = [['S1', '1'], ['S2', '2']]): string {
  const ps = parts.map((p) => `<participant participant_id="${p.id}"><nameID aor="sip:${p.name.toLowerCase()}@example.com"><name>${p.name}</name></nameID></participant>`).join('');
  const ss = streams.map(([id, label]) => `<stream stream_id="${id}" session_id="S"><label>${label}</label></stream>`).join('');
  const as = parts.map((p) => `<participantsessionassoc participant_id="${p.id}" session_id="S"><associate-time>2026-12-07T10:00:00Z</associate-time></participantsessionassoc><participantstreamassoc participant_id="${p.id}">${(p.send ?? []).map((x) => `<send>${x}</send>`).join('')}</participantstreamassoc>`).join('');
  return `<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>complete</datamode><session session_id="S"/>${ps}${ss}${as}</recording>`;
}
const t0 = new Date('2026-12-07T10:00:00Z');
const t1 = new Date('2026-12-07T10:00:03Z');
const leg = (i: Map<string, { uri?: string | null; displayName?: string | null; stereo?: string }>, id: string): [string | null | undefined, string | undefined] => [i.get(id)!.displayName, i.get(id)!.stereo];

describe('SIPREC session view', () => {
  it('a stream the SRC removes (port 0 in a re-offer) keeps the leg that recorded it, in `ended`, and is not called refused', () => {
    const v = new SiprecView('cid');
    v.setStreams(labelled, t0);
    v.addMetadata(complete([alice, bob]), 'INVITE', 'r.metadata-1.xml', t0);
    v.setStreams([{ index: 0, leg: null, label: '1', kind: 'audio', refused: 'port 0 in the offer' }, labelled[1]!], t1);
    const s0 = v.toSidecar().streams[0]!;
    assert.equal(s0.leg, null, 'no leg records it now');
    assert.deepEqual(s0.ended, [{ leg: 's0', at: t1.toISOString() }], 'the stem leg s0 recorded it until the re-offer');
    assert.equal(s0.refused, undefined, 'it was recorded, not refused');
    assert.equal(s0.streamId, 'S1');
    // The same m-line still at port 0 in a later refresh: nothing more ends, still not refused.
    v.setStreams([{ index: 0, leg: null, label: '1', kind: 'audio', refused: 'port 0 in the offer' }, labelled[1]!], new Date('2026-12-07T10:00:05Z'));
    assert.deepEqual(v.toSidecar().streams[0]!.ended, [{ leg: 's0', at: t1.toISOString() }]);
    assert.equal(v.toSidecar().streams[0]!.refused, undefined);
    // A stream refused from the start stays refused, with nothing ended.
    const r = new SiprecView('cid');
    r.setStreams([{ index: 0, leg: null, label: '1', kind: 'video', refused: 'cannot record video over RTP/AVP' }, labelled[1]!], t0);
    r.setStreams([{ index: 0, leg: null, label: '1', kind: 'video', refused: 'cannot record video over RTP/AVP' }, labelled[1]!], t1);
    assert.equal(r.toSidecar().streams[0]!.refused, 'cannot record video over RTP/AVP');
    assert.equal(r.toSidecar().streams[0]!.ended, undefined);
  });

  it("a stream the SRC removes (port 0) closes its senders at the removal; back in a later offer, they start again", () => {
    const v = new SiprecView('cid');
    v.setStreams(labelled, t0);
    v.addMetadata(complete([alice, bob]), 'INVITE', 'r.metadata-1.xml', t0);
    v.setStreams([{ index: 0, leg: null, label: '1', kind: 'audio', refused: 'port 0 in the offer' }, labelled[1]!], t1);
    const t2 = new Date('2026-12-07T10:00:05Z');
    // A metadata refresh that still lists Alice sending it does not bring it back.
    v.addMetadata(complete([alice, bob]), 'UPDATE', 'r.metadata-2.xml', t2);
    const [s0, s1] = v.toSidecar().streams;
    assert.deepEqual(s0!.senders, [{ participant: 'PA', from: t0.toISOString(), to: t1.toISOString() }], 'closed at the removal');
    assert.equal(s0!.participant, null, 'nobody sends it now');
    assert.deepEqual(s1!.senders, [{ participant: 'PB', from: t0.toISOString(), to: null }], 'the other stream is still sent');
    const t3 = new Date('2026-12-07T10:00:07Z');
    v.setStreams([{ index: 0, leg: 's2', label: '1', kind: 'audio' }, labelled[1]!], t3);
    const back = v.toSidecar().streams[0]!;
    assert.deepEqual(back.senders, [
      { participant: 'PA', from: t0.toISOString(), to: t1.toISOString() },
      { participant: 'PA', from: t3.toISOString(), to: null },
    ]);
    assert.equal(back.participant, 'PA');
  });

  it('streams are tied to their senders by label and stream id; the two senders are left and right', () => {
    const v = new SiprecView('cid');
    v.setStreams(two);
    assert.equal(v.addMetadata(sample('rfc7865.xml'), 'INVITE', 'r.metadata-1.xml'), null);
    const infos = v.legInfos();
    // Label 96 is Alice's stream, 97 Bob's; Bob is named first in the metadata: left.
    assert.deepEqual(infos.get('s1'), { uri: 'sip:bob@biloxi.com', displayName: 'Bob', role: 'caller', stereo: 'left' });
    assert.deepEqual(infos.get('s0'), { uri: 'sip:alice@atlanta.com', displayName: 'Alice', role: 'other', stereo: 'right' });
    const side = v.toSidecar();
    assert.equal(side.groupId, '7+OTCyoxTmqmqyA/1weDAg==');
    assert.deepEqual(side.participants.map((p) => [p.aor, p.sends, p.labels, p.stereo]), [
      ['sip:bob@biloxi.com', ['s1'], ['97'], 'left'],
      ['sip:alice@atlanta.com', ['s0'], ['96'], 'right'],
    ]);
    assert.deepEqual(side.streams.map((s) => s.participant), ['zSfPoSvdSDCmU3A3TRDxAw==', 'srfBElmCRp2QB23b7Mpk0w==']);
  });

  it('what the SRC says that cannot be right is noted once each: a label on two streams, a metadata label on no stream, participants past 200', () => {
    const v = new SiprecView('cid');
    v.setStreams([...two, { index: 2, leg: 's2', label: '96', kind: 'audio' }]);
    v.setStreams([...two, { index: 2, leg: 's2', label: '96', kind: 'audio' }]);
    const parts = Array.from({ length: 205 }, (_, i) => `<participant participant_id="p${i}"><nameID aor="sip:p${i}@example.com"/></participant>`).join('');
    const xml = `<recording xmlns="urn:ietf:params:xml:ns:recording:1">${parts}<stream stream_id="x" session_id="s"><label>96</label></stream><stream stream_id="y" session_id="s"><label>7</label></stream></recording>`;
    assert.equal(v.addMetadata(xml, 'INVITE', 'f'), null);
    const side = v.toSidecar();
    assert.equal(side.participants.length, 200);
    assert.deepEqual(side.problems, [
      'SDP: a=label:96 names more than one stream (RFC 4574: a label is unique)',
      'metadata: participants past the first 200 are left out',
      'metadata: stream label 7 is on no stream of the SDP',
    ]);
    assert.deepEqual(new SiprecView('ok').toSidecar().problems, []);
    const fine = new SiprecView('cid');
    fine.setStreams(two);
    fine.addMetadata(sample('rfc7865.xml'), 'INVITE', 'f');
    assert.deepEqual(fine.toSidecar().problems, [], 'a consistent session notes nothing');
  });

  it('without associations the first two streams are left and right, a third is left out of the stereo file', () => {
    const v = new SiprecView('cid');
    v.setStreams([...two, { index: 2, leg: 's2', label: '98', kind: 'audio' }]);
    v.addMetadata(sample('metaswitch-mixed.xml'), 'INVITE', 'f');
    const i = v.legInfos();
    assert.deepEqual([...i.values()].map((x) => x.stereo), ['left', 'right', 'none']);
    assert.equal(i.get('s0')!.uri, null);
  });

  it('Avaya: a placeholder first, the real parties in a later metadata-only update; the placeholder left', () => {
    const v = new SiprecView('cid');
    v.setStreams([{ index: 0, leg: 's0', label: '1', kind: 'audio' }, { index: 1, leg: 's1', label: '2', kind: 'audio' }]);
    v.addMetadata(sample('avaya-placeholder.xml'), 'INVITE', 'f1');
    v.addMetadata(sample('acme.xml'), 'UPDATE', 'f2');
    const side = v.toSidecar();
    assert.deepEqual(side.participants.map((p) => [p.aor, p.leftAt === null]), [
      ['sip:unknown@avaya.invalid', false],
      ['sip:+15551230001@sbc.example.com', true],
      ['sip:agent42@pbx.example.com', true],
    ]);
    assert.deepEqual(side.metadataVersions.map((m) => [m.file, m.method, m.dialect]), [['f1', 'INVITE', 'rfc7865'], ['f2', 'UPDATE', 'acme']]);
    assert.equal(v.legInfos().get('s0')!.uri, 'sip:+15551230001@sbc.example.com');
  });

  it('a partial update adds a participant and keeps the others', () => {
    const v = new SiprecView('cid');
    v.setStreams(two);
    v.addMetadata(sample('rfc7865.xml'), 'INVITE', 'f1');
    v.addMetadata('<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>partial</datamode><participant participant_id="c"><nameID aor="sip:carol@example.com"/></participant></recording>', 'UPDATE', 'f2');
    assert.deepEqual(v.toSidecar().participants.map((p) => [p.aor, p.leftAt]), [['sip:bob@biloxi.com', null], ['sip:alice@atlanta.com', null], ['sip:carol@example.com', null]]);
  });

  it('bad metadata is a problem noted, the version kept, nothing thrown', () => {
    const v = new SiprecView('cid');
    v.setStreams(two);
    const problem = v.addMetadata('<!DOCTYPE x [<!ENTITY a "b">]><recording/>', 'INVITE', 'f1');
    assert.match(problem!, /DOCTYPE/);
    const side = v.toSidecar();
    assert.equal(side.metadataVersions[0]!.problem, problem);
    assert.deepEqual(side.problems, [problem]);
    assert.equal(v.legInfos().size, 2);
  });

  it('pauses per stream open and close once', () => {
    const v = new SiprecView('cid');
    v.setStreams(two);
    v.pause(1, new Date('2024-01-01T00:00:00Z'));
    v.pause(1, new Date('2024-01-01T00:00:01Z'));
    v.resume(1, new Date('2024-01-01T00:00:03Z'));
    assert.deepEqual(v.toSidecar().streams[1]!.pauses, [{ start: '2024-01-01T00:00:00.000Z', end: '2024-01-01T00:00:03.000Z' }]);
  });

  describe('metadata updates move streams to their new senders (RFC 7865: complete replaces, partial changes what it names)', () => {
    it('Avaya: the placeholder sending both streams gives way to the real parties in a metadata-only update', () => {
      const v = new SiprecView('cid');
      v.setStreams(labelled, t0);
      v.addMetadata(complete([{ id: 'PH', name: 'Unknown', send: ['S1', 'S2'] }]), 'INVITE', 'f1', t0);
      // Until the real parties are known the placeholder's two streams are left and right.
      assert.deepEqual([leg(v.legInfos(), 's0'), leg(v.legInfos(), 's1')], [['Unknown', 'left'], ['Unknown', 'right']]);
      v.addMetadata(complete([alice, bob]), 'UPDATE', 'f2', t1);
      const i = v.legInfos();
      assert.deepEqual(i.get('s0'), { uri: 'sip:alice@example.com', displayName: 'Alice', role: 'caller', stereo: 'left' });
      assert.deepEqual(i.get('s1'), { uri: 'sip:bob@example.com', displayName: 'Bob', role: 'other', stereo: 'right' });
      const side = v.toSidecar();
      assert.deepEqual(side.participants.map((p) => [p.name, p.sends, p.leftAt, p.stereo]), [
        ['Unknown', ['s0', 's1'], t1.toISOString(), 'left'],
        ['Alice', ['s0'], null, 'left'],
        ['Bob', ['s1'], null, 'right'],
      ]);
      assert.deepEqual(side.streams.map((s) => s.participant), ['PA', 'PB']);
      assert.deepEqual(side.streams[0]!.senders, [
        { participant: 'PH', from: t0.toISOString(), to: t1.toISOString() },
        { participant: 'PA', from: t1.toISOString(), to: null },
      ]);
    });

    it('a transfer in a complete document: Bob gone, Carol sends his stream and takes his stereo side; Bob keeps his history', () => {
      const v = new SiprecView('cid');
      v.setStreams(labelled, t0);
      v.addMetadata(complete([alice, bob]), 'INVITE', 'f1', t0);
      assert.deepEqual(leg(v.legInfos(), 's1'), ['Bob', 'right']);
      v.addMetadata(complete([alice, carol]), 'INVITE', 'f2', t1);
      const i = v.legInfos();
      assert.deepEqual(i.get('s1'), { uri: 'sip:carol@example.com', displayName: 'Carol', role: 'other', stereo: 'right' });
      assert.deepEqual(leg(i, 's0'), ['Alice', 'left']);
      const side = v.toSidecar();
      assert.deepEqual(side.participants.map((p) => [p.name, p.sends, p.leftAt, p.stereo]), [
        ['Alice', ['s0'], null, 'left'],
        ['Bob', ['s1'], t1.toISOString(), 'right'],
        ['Carol', ['s1'], null, 'right'],
      ]);
      assert.equal(side.streams[1]!.participant, 'PC');
      assert.deepEqual(side.streams[1]!.senders, [
        { participant: 'PB', from: t0.toISOString(), to: t1.toISOString() },
        { participant: 'PC', from: t1.toISOString(), to: null },
      ]);
    });

    it('a transfer in a partial document: Bob disassociated (no participant element), Carol associated with his stream', () => {
      const v = new SiprecView('cid');
      v.setStreams(labelled, t0);
      v.addMetadata(complete([alice, bob]), 'INVITE', 'f1', t0);
      v.legInfos();
      v.addMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>partial</datamode>
        <participant participant_id="PC"><nameID aor="sip:carol@example.com"><name>Carol</name></nameID></participant>
        <participantsessionassoc participant_id="PB" session_id="S"><associate-time>2026-12-07T10:00:00Z</associate-time><disassociate-time>2026-12-07T10:00:03Z</disassociate-time></participantsessionassoc>
        <participantsessionassoc participant_id="PC" session_id="S"><associate-time>2026-12-07T10:00:03Z</associate-time></participantsessionassoc>
        <participantstreamassoc participant_id="PC"><send>S2</send><recv>S1</recv></participantstreamassoc>
      </recording>`, 'INVITE', 'f2', t1);
      assert.deepEqual(leg(v.legInfos(), 's1'), ['Carol', 'right']);
      const side = v.toSidecar();
      assert.deepEqual(side.participants.map((p) => [p.name, p.sends, p.leftAt]), [
        ['Alice', ['s0'], null],
        ['Bob', ['s1'], t1.toISOString()],
        ['Carol', ['s1'], null],
      ]);
      assert.deepEqual(side.streams.map((s) => s.participant), ['PA', 'PC']);
    });

    it('a partial document that names no streams keeps what everyone sends; one that left without a successor keeps its stream', () => {
      const v = new SiprecView('cid');
      v.setStreams(labelled, t0);
      v.addMetadata(complete([alice, bob]), 'INVITE', 'f1', t0);
      v.addMetadata('<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>partial</datamode><participant participant_id="PA"><nameID aor="sip:alice@example.com"><name>Alice B.</name></nameID></participant><participantsessionassoc participant_id="PB" session_id="S"><disassociate-time>2026-12-07T10:00:03Z</disassociate-time></participantsessionassoc></recording>', 'UPDATE', 'f2', t1);
      const i = v.legInfos();
      assert.deepEqual([leg(i, 's0'), leg(i, 's1')], [['Alice B.', 'left'], ['Bob', 'right']]);
      const side = v.toSidecar();
      assert.deepEqual(side.participants.map((p) => [p.sends, p.leftAt]), [[['s0'], null], [['s1'], t1.toISOString()]]);
      assert.deepEqual(side.streams[1]!.senders, [{ participant: 'PB', from: t0.toISOString(), to: null }]);
    });

    it('the party that replaces the left one takes the left side; the other keeps the right', () => {
      const v = new SiprecView('cid');
      v.setStreams(labelled, t0);
      v.addMetadata(complete([alice, bob]), 'INVITE', 'f1', t0);
      v.legInfos();
      v.addMetadata(complete([bob, { id: 'PC', name: 'Carol', send: ['S1'] }]), 'INVITE', 'f2', t1);
      const i = v.legInfos();
      assert.deepEqual([leg(i, 's0'), leg(i, 's1')], [['Carol', 'left'], ['Bob', 'right']]);
      assert.equal(i.get('s0')!.role, 'caller');
    });

    it('one mixed stream sent by two participants credits both', () => {
      const v = new SiprecView('cid');
      v.setStreams([{ index: 0, leg: 's0', label: 'mixed', kind: 'audio' }], t0);
      v.addMetadata(complete([{ ...alice, send: ['S1'] }, { ...bob, send: ['S1'] }], [['S1', 'mixed']]), 'INVITE', 'f1', t0);
      const i = v.legInfos();
      assert.deepEqual(i.get('s0'), { uri: 'sip:alice@example.com', displayName: 'Alice, Bob', role: 'caller', stereo: 'left' });
      const side = v.toSidecar();
      assert.deepEqual(side.participants.map((p) => [p.name, p.sends, p.stereo]), [['Alice', ['s0'], 'left'], ['Bob', ['s0'], 'left']]);
      assert.deepEqual(side.streams[0]!.senders!.map((s) => [s.participant, s.to]), [['PA', null], ['PB', null]]);
    });
  });
});

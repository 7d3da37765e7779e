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

describe('SIPREC session view', () => {
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
});

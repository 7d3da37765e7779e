// The metadata reader against samples in each SBC dialect, and hostile XML.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MAX_METADATA_BYTES, MetadataError, parseRecordingMetadata } from '../../../src/siprec/rs-metadata.ts';

const sample = (name: string): string => readFileSync(new URL(`../../fixtures/siprec/${name}`, import.meta.url), 'utf8');

describe('recording metadata dialects', () => {
  it('RFC 7865: group, session, participants with names, streams by label, associations; unknown elements listed', () => {
    const m = parseRecordingMetadata(sample('rfc7865.xml'));
    assert.equal(m.dialect, 'rfc7865');
    assert.equal(m.dataMode, 'complete');
    assert.equal(m.groupId, '7+OTCyoxTmqmqyA/1weDAg==');
    assert.equal(m.sessionId, 'hVpd7YQgRW2nD22h7q60JQ==');
    assert.deepEqual(m.sipSessionIds, ['ab30317f1a784dc48ff824d0d3715d86;remote=47755a9de7794ba387653f2099600ef2']);
    assert.deepEqual(
      m.participants.map((p) => [p.aor, p.name, p.send]),
      [
        ['sip:bob@biloxi.com', 'Bob', ['i1Pz3to5hGk8fuXl+PbwCw==']],
        ['sip:alice@atlanta.com', 'Alice', ['UAAMm5GRQKSCMVvLyl4rFw==']],
      ],
    );
    assert.deepEqual(m.streams.map((s) => [s.id, s.label]), [['UAAMm5GRQKSCMVvLyl4rFw==', '96'], ['i1Pz3to5hGk8fuXl+PbwCw==', '97']]);
    assert.deepEqual(m.unknown, ['vendor:extra'], 'a vendor element, by its name as written');
  });

  it("a vendor's elements with the recording namespace's local names are not recording metadata; prefixes and a document with no namespace at all still read", () => {
    const doc = `<recording xmlns="urn:ietf:params:xml:ns:recording:1" xmlns:x="urn:vendor:ext">
      <datamode>complete</datamode><session session_id="S"/>
      <participant participant_id="PA"><x:nameID aor="sip:not-a-nameid@vendor"/><nameID aor="sip:alice@example.com"><name>Alice</name></nameID><x:send>ST2</x:send></participant>
      <x:participant participant_id="PX"><nameID aor="sip:vendor-party@vendor"/></x:participant>
      <extensiondata><x:participant participant_id="PY"><x:nameID aor="sip:y@vendor"/></x:participant></extensiondata>
      <stream stream_id="ST1" session_id="S"><label>1</label></stream>
      <x:stream stream_id="ST2" session_id="S"><x:label>2</x:label></x:stream>
      <participantstreamassoc participant_id="PA"><send>ST1</send></participantstreamassoc>
      <participantstreamassoc xmlns="urn:vendor:ext" participant_id="PZ"><send>ST2</send></participantstreamassoc>
    </recording>`;
    const m = parseRecordingMetadata(doc);
    assert.deepEqual(m.participants.map((p) => [p.id, p.aor, p.send]), [['PA', 'sip:alice@example.com', ['ST1']]], 'only the recording namespace\'s participants, nameIDs and sends');
    assert.deepEqual(m.streams.map((s) => [s.id, s.label]), [['ST1', '1']]);
    assert.deepEqual(m.unknown, ['x:participant', 'x:stream', 'participantstreamassoc']);
    // The same names under a prefix bound to the recording namespace (Sonus tns:) are read.
    const tns = parseRecordingMetadata(`<tns:recording xmlns:tns="urn:ietf:params:xml:ns:recording:1"><tns:participant participant_id="P1"><tns:nameID aor="sip:a@x"/></tns:participant></tns:recording>`);
    assert.deepEqual(tns.participants.map((p) => p.aor), ['sip:a@x']);
    // No namespace declared at all: read as before (tolerance); a vendor's prefixed element still is not.
    const bare = parseRecordingMetadata(`<recording><participant participant_id="P1"><nameID aor="sip:a@x"/></participant><x:participant xmlns:x="urn:vendor" participant_id="P2"/></recording>`);
    assert.deepEqual(bare.participants.map((p) => p.id), ['P1']);
    // A root in a vendor's namespace is not recording metadata.
    assert.throws(() => parseRecordingMetadata(`<x:recording xmlns:x="urn:vendor"><x:participant participant_id="P1"/></x:recording>`), MetadataError);
  });

  it('Acme Packet / Oracle: namespace without :1, id attributes, <send> inside <participant>, no name', () => {
    const m = parseRecordingMetadata(sample('acme.xml'));
    assert.equal(m.dialect, 'acme');
    assert.equal(m.sessionId, '3wNvZPBgRKa4wXGVSHmnmA==');
    assert.equal(m.groupId, null);
    assert.deepEqual(m.participants.map((p) => [p.id, p.aor, p.name, p.send]), [
      ['Lpzpz0dUSOOZ6YLCrXUcvg==', 'sip:+15551230001@sbc.example.com', '+15551230001', ['2cEhJ+ZUTbaDVj1I9LZ0vA==']],
      ['+dTPjNx6TlSSsL7WAVy0kg==', 'sip:agent42@pbx.example.com', null, ['UaNj3dHbQZCrHqIXQk2tNQ==']],
    ]);
    assert.deepEqual(m.streams.map((s) => s.label), ['1', '2']);
  });

  it('Cisco CUBE: participants interleaved with streams, a second session element carrying extension data', () => {
    const m = parseRecordingMetadata(sample('cisco-cube.xml'));
    assert.equal(m.dialect, 'rfc7865');
    assert.equal(m.groupId, '00000000000000000000000000000001');
    assert.deepEqual(m.participants.map((p) => [p.aor, p.send.length]), [['sip:2001@10.0.0.11', 1], ['sip:3001@10.0.0.12', 1]]);
    assert.equal(m.participants[0]!.name, null);
  });

  it('Sonus/Ribbon: every element prefixed tns:', () => {
    const m = parseRecordingMetadata(sample('sonus-tns.xml'));
    assert.equal(m.dialect, 'rfc7865');
    assert.equal(m.groupId, 'Z3JvdXAtMTIzNDU=');
    assert.deepEqual(m.participants.map((p) => [p.aor, p.name, p.send]), [
      ['sip:4085551000@sonus.example.net', 'Caller A', ['c3RyZWFtLWE=']],
      ['sip:4085552000@sonus.example.net', null, ['c3RyZWFtLWI=']],
    ]);
  });

  it('BroadWorks pre-RFC recording_metadata: <aor> and <name> elements, dataMode, a participant that sends nothing', () => {
    const m = parseRecordingMetadata(sample('broadworks.xml'));
    assert.equal(m.dialect, 'pre-rfc');
    assert.equal(m.groupId, 'YnctZ3JvdXAtOTk=');
    assert.deepEqual(m.participants.map((p) => [p.aor, p.name, p.send]), [
      ['sip:+12025550101@as.example.com', 'Front Desk', ['YnctczE=']],
      ['tel:+12025550199', null, []],
    ]);
  });

  it('Avaya placeholder and Metaswitch mixed stream: no associations at all', () => {
    const a = parseRecordingMetadata(sample('avaya-placeholder.xml'));
    assert.equal(a.participants.length, 1);
    assert.deepEqual(a.participants[0]!.send, []);
    const mx = parseRecordingMetadata(sample('metaswitch-mixed.xml'));
    assert.deepEqual(mx.streams.map((s) => s.label), ['mixed']);
    assert.equal(mx.participants.length, 2);
  });

  it('partial datamode and a disassociated participant', () => {
    const m = parseRecordingMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>partial</datamode>
      <participant participant_id="p3"><nameID aor="sip:carol@example.com"/></participant>
      <participantsessionassoc participant_id="p3" session_id="s"><disassociate-time>2024-01-01T00:00:00Z</disassociate-time></participantsessionassoc>
    </recording>`);
    assert.equal(m.dataMode, 'partial');
    assert.equal(m.participants[0]!.left, true);
  });

  it('a partial transfer: associations for participants the document has no <participant> element for; which ones say their streams', () => {
    const m = parseRecordingMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>partial</datamode>
      <participant participant_id="PC"><nameID aor="sip:carol@example.com"><name>Carol</name></nameID></participant>
      <participant participant_id="PD"><nameID aor="sip:dave@example.com"/></participant>
      <participantsessionassoc participant_id="PB" session_id="s"><associate-time>2026-12-07T10:00:00Z</associate-time><disassociate-time>2026-12-07T10:00:03Z</disassociate-time></participantsessionassoc>
      <participantsessionassoc participant_id="PE" session_id="s"><associate-time>2026-12-07T10:00:03Z</associate-time></participantsessionassoc>
      <participantstreamassoc participant_id="PC"><send>S2</send><recv>S1</recv></participantstreamassoc>
    </recording>`);
    assert.deepEqual(m.participants.map((p) => [p.id, p.aor, p.send, p.streamsGiven, p.left]), [
      ['PC', 'sip:carol@example.com', ['S2'], true, false],
      ['PD', 'sip:dave@example.com', [], false, false],
      ['PB', null, [], false, true],
    ]);
    const acme = parseRecordingMetadata(sample('acme.xml'));
    assert.deepEqual(acme.participants.map((p) => p.streamsGiven), [true, true], '<send> inside <participant> says its streams');
  });
});

describe('hostile or broken metadata', () => {
  it('billion laughs: refused before parsing, nothing expanded', () => {
    const lol = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
      <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><recording xmlns="urn:ietf:params:xml:ns:recording:1"><participant participant_id="x"><nameID aor="&lol3;"/></participant></recording>`;
    assert.throws(() => parseRecordingMetadata(lol), (e: unknown) => e instanceof MetadataError && /DOCTYPE/.test(e.message));
  });

  it('XXE: an external entity is refused', () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><recording><participant participant_id="&xxe;"/></recording>`;
    assert.throws(() => parseRecordingMetadata(xxe), MetadataError);
  });

  it('an undeclared entity, a character reference to no XML character or a bare & is not well-formed XML: refused, never resolved', () => {
    for (const bad of ['&xxe;', '&unknown;', '&#0;', '&#xD800;', '&#1114112;', 'AT&T', '&amp', '&#x;']) {
      const xml = `<recording xmlns="urn:ietf:params:xml:ns:recording:1"><participant participant_id="a"><nameID aor="sip:a@b"><name>${bad}</name></nameID></participant></recording>`;
      assert.throws(() => parseRecordingMetadata(xml), (e: unknown) => e instanceof MetadataError && /bad reference/.test(e.message), bad);
    }
  });

  it('the predefined entities and character references are decoded, in text and attributes; an & in a comment or CDATA is no reference', () => {
    const m = parseRecordingMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording:1"><!-- R&D --><participant participant_id="a&amp;b"><nameID aor="sip:jos&#233;@example.com"><name>AT&amp;T &lt;Jos&#xE9;&gt; &quot;&apos;&#x1F600;</name></nameID></participant><stream stream_id="s"><label><![CDATA[1&2]]></label></stream></recording>`);
    assert.equal(m.participants[0]!.id, 'a&b');
    assert.equal(m.participants[0]!.aor, 'sip:josé@example.com');
    assert.equal(m.participants[0]!.name, 'AT&T <José> "\'😀');
    assert.equal(m.streams[0]!.label, '1&2');
  });

  it('too large, not XML, another root: MetadataError, never a crash', () => {
    assert.throws(() => parseRecordingMetadata(`<recording>${' '.repeat(MAX_METADATA_BYTES)}</recording>`), /larger than/);
    assert.throws(() => parseRecordingMetadata('this is not xml'), MetadataError);
    assert.throws(() => parseRecordingMetadata('<html><body/></html>'), /root/);
  });

  it('a document that is not well-formed is refused whole, naming why, never read as far as it goes', () => {
    const good = '<?xml version="1.0"?><recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>complete</datamode><participant participant_id="P1"><nameID aor="sip:a@x"><name>A</name></nameID></participant></recording>';
    assert.equal(parseRecordingMetadata(good).participants.length, 1);
    const broken: [string, RegExp][] = [
      [good.replace('</recording>', '</recordin>'), /closing tag 'recording'/],
      [good.replace('</recording>', ''), /Unclosed tag 'recording'/],
      [good.replace('</name>', '</nam>'), /closing tag 'name'/],
      [good.replace('</nameID>', ''), /closing tag 'nameID'/],
      [good + '<recording/>', /more than one root/],
      [good + 'garbage<<', /Extra text/],
      [good.replace('participant_id="P1"', 'participant_id=P1'), /participant_id/],
      [good.replace('participant_id="P1"', 'participant_id="P1" participant_id="P2"'), /repeated/],
    ];
    for (const [xml, why] of broken) assert.throws(() => parseRecordingMetadata(xml), (e: Error) => e instanceof MetadataError && /not well-formed XML/.test(e.message) && why.test(e.message), xml);
    // A byte order mark, comments and CDATA are XML.
    assert.equal(parseRecordingMetadata('\uFEFF' + good.replace('<name>A</name>', '<!-- c --><name><![CDATA[A & B]]></name>')).participants[0]!.name, 'A & B');
  });

  it('path-like values are plain text (the caller never builds a path from them)', () => {
    const m = parseRecordingMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording:1"><participant participant_id="../../etc/passwd"><nameID aor="sip:x@y"/></participant><stream stream_id="/tmp/x"><label>../l</label></stream></recording>`);
    assert.equal(m.participants[0]!.id, '../../etc/passwd');
    assert.equal(m.streams[0]!.label, '../l');
  });
});

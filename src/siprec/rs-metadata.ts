// A tolerant reader of SIPREC recording metadata (RFC 7865) in the dialects SBCs
// send: RFC 7865's namespace `urn:ietf:params:xml:ns:recording:1`; Acme Packet /
// Oracle without `:1`, with `<send>`/`<recv>` inside `<participant>` and `id`
// attributes; Sonus/Ribbon prefixed elements (`tns:`); BroadWorks' pre-RFC
// `recording_metadata` (`urn:ietf:params:xml:ns:siprec`). Only elements of those
// recording namespaces count, whatever their prefix: a vendor's own element with a
// local name the recording namespace uses (`<x:participant xmlns:x="urn:vendor">`) is
// no participant. Elements in no namespace count only in a document that declares no
// recording namespace at all (an SRC that leaves it out: none in the field notes does,
// but nothing there can be told apart from a vendor's). Local names are then compared
// without case, `-` and `_`. Missing associations, names or ids are fine; unknown
// elements are listed (the file as received keeps them whole).
//
// Safety: no DTD is processed and no entity is expanded (a DOCTYPE is refused
// before parsing: no billion laughs, no XXE); the size is limited; values are
// kept as text and never used to build a file path.
import { XMLParser, XMLValidator } from 'fast-xml-parser';

/** siprec.maxMetadataBytes's default (with an INVITE's headers and SDP, within sip.maxMessageSize's 65535). */
export const MAX_METADATA_BYTES = 48 * 1024;

export class MetadataError extends Error {
  override name = 'MetadataError';
}

export type MetadataDialect = 'rfc7865' | 'acme' | 'pre-rfc' | 'unknown';

export interface MetaParticipant {
  id: string | null;
  /** The first nameID's AOR (or the participant's own `aor`). */
  aor: string | null;
  /** Every AOR it is named by, `aor` first (several nameIDs: a sip: and a tel: one, as Cisco CUBE and Avaya send). */
  aors: string[];
  name: string | null;
  /** Stream ids this participant sends and receives. */
  send: string[];
  recv: string[];
  /**
   * The document says what it sends and receives (`<send>`/`<recv>` in its `<participant>`, or a
   * `participantstreamassoc`): a partial update replaces its streams only then (RFC 7865 §6.1).
   */
  streamsGiven: boolean;
  /** The metadata says the participant left (a disassociate-time). */
  left: boolean;
}

export interface MetaStream {
  id: string | null;
  /** Matches the SDP's `a=label`. */
  label: string | null;
  sessionId: string | null;
}

export interface RecordingMetadataDoc {
  dialect: MetadataDialect;
  /** `complete` (default) or `partial` (only what changed, RFC 7865 §6.1). */
  dataMode: 'complete' | 'partial';
  sessionId: string | null;
  groupId: string | null;
  /** The recorded call's SIP Call-ID(s) (`sipSessionID`). */
  sipSessionIds: string[];
  participants: MetaParticipant[];
  streams: MetaStream[];
  /** Top-level elements this reader does not know (vendor extensions), by name. */
  unknown: string[];
}

const KNOWN_TOP = new Set(['datamode', 'group', 'session', 'participant', 'stream', 'participantstreamassoc', 'participantsessionassoc', 'sessionrecordingassoc', 'extensiondata']);

type XNode = Record<string, unknown>;

/** AORs kept per participant (nameIDs past it are left out). */
export const MAX_AORS = 8;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: false,
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: true,
  textNodeName: '#text',
  isArray: (_name: string, _jpath: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
});

const norm = (name: string): string => name.toLowerCase().replace(/[-_]/g, '');

/** The namespaces whose elements are recording metadata (RFC 7865's, Acme Packet's, BroadWorks' pre-RFC one). */
const RECORDING_NS = new Set(['urn:ietf:params:xml:ns:recording:1', 'urn:ietf:params:xml:ns:recording', 'urn:ietf:params:xml:ns:siprec']);
type Scope = ReadonlyMap<string, string>;

/** `parent` with the namespace declarations of `node` (prefix '' for the default one; '' as a URI: none). */
function nsScope(node: unknown, parent: Scope): Scope {
  if (typeof node !== 'object' || node === null) return parent;
  let scope: Map<string, string> | null = null;
  for (const [k, v] of Object.entries(node)) {
    if (k !== '@xmlns' && !k.startsWith('@xmlns:')) continue;
    scope ??= new Map(parent);
    scope.set(k === '@xmlns' ? '' : k.slice(7), String(v).trim().toLowerCase());
  }
  return scope ?? parent;
}

/**
 * The tree of `node` keeping only elements of a recording namespace (or of none, `noNs`),
 * named by their local names; attributes unprefixed (or in a recording namespace), no
 * declarations. The names of the elements left out at `depth` 1 (the root's children) go to `dropped`.
 */
function recordingOnly(node: XNode, scope: Scope, noNs: boolean, dropped: string[], depth = 0): XNode {
  const counts = (prefix: string, s: Scope): boolean => {
    const ns = s.get(prefix) || null;
    return ns === null ? noNs : RECORDING_NS.has(ns);
  };
  const out: XNode = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '#text') {
      out[k] = v;
      continue;
    }
    const colon = k.indexOf(':');
    const local = k.slice(colon + 1);
    if (k.startsWith('@')) {
      // An attribute without a prefix is the element's own (no namespace); a prefixed one counts only in a recording namespace.
      if (k === '@xmlns' || k.startsWith('@xmlns:')) continue;
      if (colon < 0) out[k] = v;
      else if (counts(k.slice(1, colon), scope) && scope.get(k.slice(1, colon))) out[`@${local}`] ??= v;
      continue;
    }
    for (const item of Array.isArray(v) ? v : [v]) {
      const s = nsScope(item, scope);
      if (!counts(colon < 0 ? '' : k.slice(0, colon), s)) {
        if (depth === 1) dropped.push(k);
        continue;
      }
      const kept = typeof item === 'object' && item !== null ? recordingOnly(item as XNode, s, noNs, dropped, depth + 1) : item;
      ((out[local] ??= []) as unknown[]).push(kept);
    }
  }
  return out;
}

/** Child elements of `node` named `name` (normalized). */
function kids(node: XNode | undefined, name: string): XNode[] {
  if (!node) return [];
  const want = norm(name);
  const out: XNode[] = [];
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith('@') || k === '#text' || norm(k) !== want) continue;
    for (const item of Array.isArray(v) ? v : [v]) out.push(typeof item === 'object' && item !== null ? (item as XNode) : { '#text': String(item) });
  }
  return out;
}

// References (XML 1.0 §4.1): the parser is told to expand none (no DTD's entities ever), so
// the five predefined ones and character references are decoded here: `AT&amp;T` is AT&T.
const NAMED_REFS: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };
const REF_RE = /&(?:(lt|gt|amp|apos|quot)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));/g;

/** A character XML 1.0 allows (§2.2): no NUL or other C0 controls but tab and line ends, no surrogates. */
function xmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/** The first `&` of `xml` (outside comments and CDATA) that starts no well-formed reference, or null. */
function badReference(xml: string): string | null {
  const plain = xml.replace(/<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>/g, '');
  for (let i = plain.indexOf('&'); i !== -1; i = plain.indexOf('&', i + 1)) {
    REF_RE.lastIndex = i;
    const m = REF_RE.exec(plain);
    if (!m || m.index !== i || (!m[1] && !xmlChar(parseInt(m[2] ?? m[3]!, m[2] ? 10 : 16)))) return plain.slice(i, i + 16);
  }
  return null;
}

const decodeRefs = (s: string): string =>
  s.includes('&') ? s.replace(REF_RE, (_m, named: string | undefined, dec: string | undefined, hex: string | undefined) => named ? NAMED_REFS[named]! : String.fromCodePoint(parseInt(dec ?? hex!, dec ? 10 : 16))) : s;

function text(node: XNode | undefined): string | null {
  if (!node) return null;
  const t = node['#text'];
  const s = decodeRefs(Array.isArray(t) ? t.join('') : t === undefined ? '' : String(t));
  return s.trim() === '' ? null : s.trim().slice(0, 1024);
}

function attr(node: XNode | undefined, ...names: string[]): string | null {
  if (!node) return null;
  for (const n of names) {
    const want = norm(n);
    for (const [k, v] of Object.entries(node)) if (k.startsWith('@') && norm(k.slice(1)) === want && String(v).trim()) return decodeRefs(String(v).trim()).slice(0, 1024);
  }
  return null;
}

const childText = (node: XNode | undefined, name: string): string | null => text(kids(node, name)[0]);
const childTexts = (node: XNode | undefined, name: string): string[] => kids(node, name).map(text).filter((t): t is string => t !== null);

function dialectOf(xml: string, rootName: string): MetadataDialect {
  const nss = [...xml.matchAll(/xmlns(?::[\w.-]+)?\s*=\s*["']([^"']+)["']/g)].map((m) => m[1]!.trim().toLowerCase());
  if (nss.includes('urn:ietf:params:xml:ns:recording:1')) return 'rfc7865';
  if (nss.includes('urn:ietf:params:xml:ns:recording')) return 'acme';
  if (nss.includes('urn:ietf:params:xml:ns:siprec') || norm(rootName) === 'recordingmetadata') return 'pre-rfc';
  return 'unknown';
}

/** Parses metadata; throws MetadataError for what is not metadata at all (too big, a DOCTYPE, not XML, another root). */
export function parseRecordingMetadata(xml: string, maxBytes = MAX_METADATA_BYTES): RecordingMetadataDoc {
  if (Buffer.byteLength(xml, 'utf8') > maxBytes) throw new MetadataError(`metadata larger than ${maxBytes} bytes (siprec.maxMetadataBytes)`);
  // No DTD at all: entities are never declared, so none can be expanded.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new MetadataError('metadata with a DOCTYPE or ENTITY declaration is refused');
  // Without a DTD only the predefined entities exist; &unknown;, &#0; or a bare & is not XML.
  const bad = badReference(xml);
  if (bad !== null) throw new MetadataError(`metadata is not well-formed XML: bad reference ${JSON.stringify(bad)}`);
  // The parser reads leniently (a wrong or missing end tag, two roots, an unquoted or
  // repeated attribute): a document that is not well-formed is refused whole, as the
  // problem noted, rather than read as far as it goes (a truncated complete document
  // would say every participant it lost had left).
  const check = XMLValidator.validate(xml, { allowBooleanAttributes: false });
  if (check !== true) throw new MetadataError(`metadata is not well-formed XML: ${check.err.msg.slice(0, 120)} (line ${check.err.line})`);
  let parsed: XNode;
  try {
    parsed = parser.parse(xml) as XNode;
  } catch (err) {
    throw new MetadataError(`metadata is not well-formed XML: ${(err as Error).message.slice(0, 120)}`);
  }
  const tops = Object.keys(parsed).filter((k) => k !== '#text');
  if (tops.length > 1 || (tops.length === 1 && (parsed[tops[0]!] as unknown[]).length > 1)) throw new MetadataError('metadata is not well-formed XML: more than one root element');
  const declared = [...xml.matchAll(/xmlns(?::[\w.-]+)?\s*=\s*["']([^"']*)["']/g)].some((m) => RECORDING_NS.has(m[1]!.trim().toLowerCase()));
  const vendor: string[] = [];
  const doc = recordingOnly(parsed, new Map(), !declared, vendor);
  const rootKey = Object.keys(doc).find((k) => ['recording', 'recordingmetadata'].includes(norm(k)));
  if (!rootKey) throw new MetadataError(`metadata root is not <recording> (found ${Object.keys(doc).slice(0, 3).join(', ') || 'nothing'})`);
  const root = kids(doc, rootKey)[0]!;
  const out: RecordingMetadataDoc = {
    dialect: dialectOf(xml, rootKey),
    dataMode: /partial/i.test(childText(root, 'datamode') ?? '') ? 'partial' : 'complete',
    sessionId: null,
    groupId: null,
    sipSessionIds: [],
    participants: [],
    streams: [],
    unknown: [],
  };
  for (const k of Object.keys(root)) if (!k.startsWith('@') && k !== '#text' && !KNOWN_TOP.has(norm(k))) out.unknown.push(k.slice(0, 64));
  // Another namespace's elements (a vendor's), by their names as written: never read as recording metadata.
  for (const k of new Set(vendor)) if (out.unknown.length < 64) out.unknown.push(k.slice(0, 64));

  const group = kids(root, 'group')[0];
  const session = kids(root, 'session')[0];
  out.groupId = attr(group, 'group_id', 'id') ?? childText(session, 'group-ref') ?? attr(session, 'group_ref', 'group');
  out.sessionId = attr(session, 'session_id', 'id');
  for (const s of kids(root, 'session')) out.sipSessionIds.push(...childTexts(s, 'sipSessionID'));

  const byId = new Map<string, MetaParticipant>();
  for (const p of kids(root, 'participant')) {
    const nameIds = kids(p, 'nameID');
    const nameId = nameIds[0];
    const aors: string[] = [];
    for (const a of [...nameIds.map((n) => attr(n, 'aor') ?? childText(n, 'aor')), childText(p, 'aor'), attr(p, 'aor')]) {
      if (a !== null && !aors.includes(a) && aors.length < MAX_AORS) aors.push(a);
    }
    const aor = aors[0] ?? null;
    const name = childText(nameId, 'name') ?? childText(p, 'name') ?? attr(p, 'name');
    const send = childTexts(p, 'send');
    const recv = childTexts(p, 'recv');
    const entry: MetaParticipant = {
      id: attr(p, 'participant_id', 'id'),
      aor,
      aors,
      name,
      send,
      recv,
      streamsGiven: send.length + recv.length > 0,
      left: kids(p, 'disassociate-time').length > 0,
    };
    out.participants.push(entry);
    if (entry.id) byId.set(entry.id, entry);
  }
  // An association may name a participant this document has no <participant> element for
  // (a partial update: one named in an earlier version): it is listed by its id alone.
  const byRef = (a: XNode): MetaParticipant => {
    const id = attr(a, 'participant_id', 'id');
    let p = id ? byId.get(id) : undefined;
    if (!p) {
      p = { id, aor: null, aors: [], name: null, send: [], recv: [], streamsGiven: false, left: false };
      out.participants.push(p);
      if (id) byId.set(id, p);
    }
    return p;
  };
  for (const a of kids(root, 'participantstreamassoc')) {
    const p = byRef(a);
    p.streamsGiven = true;
    for (const s of childTexts(a, 'send')) if (!p.send.includes(s)) p.send.push(s);
    for (const s of childTexts(a, 'recv')) if (!p.recv.includes(s)) p.recv.push(s);
  }
  for (const a of kids(root, 'participantsessionassoc')) {
    if (kids(a, 'disassociate-time').length === 0 || attr(a, 'participant_id', 'id') === null) continue;
    byRef(a).left = true;
  }
  for (const s of kids(root, 'stream')) {
    out.streams.push({ id: attr(s, 'stream_id', 'id'), label: childText(s, 'label') ?? attr(s, 'label'), sessionId: attr(s, 'session_id', 'session') });
  }
  return out;
}

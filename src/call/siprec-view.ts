// The SIPREC session as the recording sees it: every metadata version the SRC sent
// (merged, RFC 7865 §6.1: a `complete` one is the whole state, who sends what replaced
// and those it does not name gone; a `partial` one changes what it names), which
// participants send each stream now and who sent it before (siprec-senders.ts), the two
// main participants for the stereo file, pauses per stream; and the sidecar's `siprec` section built from it. Bad metadata never
// stops anything: the problem is noted and the version kept as received.
import { MAX_AORS, MAX_METADATA_BYTES, MetadataError, parseRecordingMetadata, type RecordingMetadataDoc } from '../siprec/rs-metadata.ts';
import { currentSenders, MAX_SENDER_ENTRIES, StereoSides } from './siprec-senders.ts';
import type { LegInfo } from '../recording/metadata.ts';
import type { SiprecMetadataVersion, SiprecParticipantEntry, SiprecSidecar, SiprecStreamEntry } from '../recording/siprec-sidecar.ts';

interface ParticipantState extends SiprecParticipantEntry {
  key: string;
  /** Stream ids (metadata) it sends. */
  sendIds: string[];
}

export interface StreamSlot {
  index: number;
  leg: string | null;
  label: string | null;
  kind: string;
  refused?: string;
}

const MAX_VERSIONS = 200;
/**
 * Metadata stream ids remembered, the newest kept: in the session, and per participant.
 * Without a bound an SRC that names its streams anew in every update grew both without
 * end, and with them the work of every refresh (each stream looked up in all of them).
 */
const MAX_STREAM_IDS = 1024;

/** Puts `key` last in `map` (the newest), dropping the oldest past MAX_STREAM_IDS. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_STREAM_IDS) map.delete(map.keys().next().value!);
}

export class SiprecView {
  private readonly participants: ParticipantState[] = [];
  /** stream_id → label, from the metadata's stream elements. */
  private readonly streamLabels = new Map<string, string | null>();
  private readonly streams: SiprecStreamEntry[] = [];
  private readonly versions: SiprecMetadataVersion[] = [];
  private readonly updates: SiprecSidecar['updates'] = [];
  private readonly problems: string[] = [];
  private sessionId: string | null = null;
  private groupId: string | null = null;
  private dialect: string | null = null;
  private readonly sipSessionIds: string[] = [];
  /** A version came past MAX_VERSIONS (noted once). */
  private versionsCapped = false;
  linked: string[] = [];
  /** When the metadata or the streams last changed: when a change of senders took effect. */
  private changedAt = new Date().toISOString();
  /** Keys of those sending each stream now (by stream index), and the stereo sides they hold. */
  private readonly senderKeys = new Map<number, string[]>();
  private readonly sides = new StereoSides();
  private readonly byKey = new Map<string, ParticipantState>();

  constructor(
    readonly callId: string,
    private readonly maxMetadataBytes = MAX_METADATA_BYTES,
  ) {}

  get group(): string | null {
    return this.groupId;
  }

  /**
   * Reads one metadata version. Returns the problem (null if none); the caller keeps
   * the text as a file named `fileName` either way. `notParsed`: why it is kept without
   * being read (siprec.metadataBudget), which is then its problem.
   */
  addMetadata(xml: string, method: string, fileName: string, now = new Date(), notParsed: string | null = null): string | null {
    const at = now.toISOString();
    let doc: RecordingMetadataDoc | null = null;
    let problem: string | null = notParsed;
    if (problem === null) {
      try {
        doc = parseRecordingMetadata(xml, this.maxMetadataBytes);
      } catch (err) {
        problem = err instanceof MetadataError ? err.message : `metadata could not be read: ${(err as Error).message}`;
      }
    }
    if (this.versions.length < MAX_VERSIONS) {
      this.versions.push({ file: fileName, at, method, bytes: Buffer.byteLength(xml), problem, dialect: doc?.dialect ?? null, dataMode: doc?.dataMode ?? null });
    } else if (!this.versionsCapped) {
      this.versionsCapped = true;
      this.note(`more than ${MAX_VERSIONS} metadata versions: the later ones are merged but not kept as files`);
    }
    if (problem) this.note(problem);
    if (doc) {
      this.merge(doc, at);
      this.track();
    }
    return problem;
  }

  /**
   * Whether the next version is listed (and so may be kept as a file): a file the sidecar
   * does not list would be neither hashed nor signed, served nor removed with the recording.
   */
  get keepsMoreVersions(): boolean {
    return this.versions.length < MAX_VERSIONS;
  }

  /** A request changed the session. */
  noteUpdate(method: string, sdp: boolean, metadata: boolean, now = new Date()): void {
    if (this.updates.length < 500) this.updates.push({ at: now.toISOString(), method, sdp, metadata });
  }

  /** A version received before the recording had an id gets its final file name. */
  renameVersion(from: string, to: string): void {
    for (const v of this.versions) if (v.file === from) v.file = to;
  }

  note(problem: string): void {
    if (this.problems.length < 50 && !this.problems.includes(problem)) this.problems.push(problem);
  }

  get versionCount(): number {
    return this.versions.length;
  }

  private merge(doc: RecordingMetadataDoc, at: string): void {
    this.changedAt = at;
    this.dialect = doc.dialect;
    this.sessionId = doc.sessionId ?? this.sessionId;
    this.groupId = doc.groupId ?? this.groupId;
    for (const id of doc.sipSessionIds) if (!this.sipSessionIds.includes(id) && this.sipSessionIds.length < 20) this.sipSessionIds.push(id);
    for (const s of doc.streams) if (s.id) remember(this.streamLabels, s.id, s.label ?? this.streamLabels.get(s.id) ?? null);
    const seen = new Set<string>();
    const replaced = new Set<string>();
    doc.participants.forEach((p, i) => {
      const key = p.id ?? p.aor ?? `#${i}`;
      seen.add(key);
      let st = this.participants.find((x) => x.key === key);
      if (!st) {
        // One never seen before that the SRC names only to say it left: nothing to list.
        if (p.left && p.aor === null && p.name === null && p.send.length === 0) return;
        if (this.participants.length >= 200) return this.note('metadata: participants past the first 200 are left out');
        st = { key, id: p.id, aor: null, aors: [], name: null, sends: [], labels: [], joinedAt: at, leftAt: null, stereo: null, sendIds: [] };
        this.participants.push(st);
      }
      st.aor = p.aor ?? st.aor;
      // Every AOR it was ever named by, the current first one first.
      if (p.aors.length > 0) st.aors = [...new Set([...p.aors, ...(st.aors ?? [])])].slice(0, MAX_AORS);
      st.name = p.name ?? st.name;
      // What it sends: a complete document says it all (nothing listed: nothing), a partial one
      // only for those it gives streams for (RFC 7865 §6.1). One that left keeps what it sent
      // then, its history, unless the document names other streams.
      if ((doc.dataMode === 'complete' || p.streamsGiven) && !(p.left && p.send.length === 0)) {
        if (!replaced.has(key)) st.sendIds = [];
        replaced.add(key);
        for (const s of p.send) if (!st.sendIds.includes(s)) st.sendIds.push(s);
        if (st.sendIds.length > MAX_STREAM_IDS) st.sendIds.splice(0, st.sendIds.length - MAX_STREAM_IDS);
      }
      if (p.left) st.leftAt ??= at;
      else if (st.leftAt !== null && doc.dataMode === 'complete') st.leftAt = null;
    });
    // A complete document names everyone still there (Avaya's placeholder gives way to the real parties).
    if (doc.dataMode === 'complete') for (const p of this.participants) if (!seen.has(p.key)) p.leftAt ??= at;
  }

  /** The streams of the session (from the SDP): legs, labels, refusals. Keeps pauses of known streams. */
  setStreams(slots: StreamSlot[], now = new Date()): void {
    this.changedAt = now.toISOString();
    const labels = slots.map((s) => s.label).filter((l): l is string => l !== null);
    for (const l of new Set(labels.filter((l, i) => labels.indexOf(l) !== i))) this.note(`SDP: a=label:${l.slice(0, 64)} names more than one stream (RFC 4574: a label is unique)`);
    for (const s of slots) {
      const old = this.streams.find((x) => x.index === s.index);
      if (old) {
        // A re-offer removed it (port 0) or gave it another leg: the stem that recorded it until now stays named.
        if (old.leg !== null && old.leg !== s.leg) (old.ended ??= []).push({ leg: old.leg, at: this.changedAt });
        old.leg = s.leg;
        old.label = s.label;
        // Removed after it was recorded is not refused: `ended` says where it was recorded.
        if (s.refused && !(s.leg === null && old.ended)) old.refused = s.refused;
        else delete old.refused;
        continue;
      }
      this.streams.push({ index: s.index, leg: s.leg, label: s.label, streamId: null, kind: s.kind, participant: null, senders: [], pauses: [], ...(s.refused ? { refused: s.refused } : {}) });
    }
    this.track();
  }

  pause(index: number, now = new Date()): void {
    const s = this.streams.find((x) => x.index === index);
    if (!s || s.pauses.at(-1)?.end === null) return;
    s.pauses.push({ start: now.toISOString(), end: null });
  }

  resume(index: number, now = new Date()): void {
    const p = this.streams.find((x) => x.index === index)?.pauses.at(-1);
    if (!p || p.end !== null) return;
    p.end = now.toISOString();
  }

  /**
   * Who sends each stream, and where each leg goes in the stereo file: the first two
   * participants (in metadata order) that send a recorded stream are left and right, and
   * keep their side while they send one (the party a transfer brings in takes the side of
   * the one it replaced); without associations the first two streams are. A stream's leg
   * is named after those sending it now (a mixed stream: the first one's AOR, every name).
   */
  legInfos(): Map<string, LegInfo> {
    this.resolve();
    const out = new Map<string, LegInfo>();
    let leftTaken = false;
    // Nobody holds the right side: a second stream of the left side's participant goes there
    // (Avaya's placeholder, named as the sender of both streams until the real parties are known).
    let rightFree = this.sides.holder('right') === null;
    this.streams.filter((s) => s.leg !== null).forEach((s, i) => {
      const senders = (this.senderKeys.get(s.index) ?? []).map((k) => this.byKey.get(k)).filter((p): p is ParticipantState => p !== undefined);
      let side: 'left' | 'right' | 'none';
      if (this.sides.any) side = this.sides.of(senders[0]?.key) ?? 'none';
      else side = i === 0 ? 'left' : i === 1 ? 'right' : 'none';
      if (side === 'left' && leftTaken && rightFree) side = 'right';
      if (side === 'right') rightFree = false;
      const caller = side === 'left' && !leftTaken;
      if (caller) leftTaken = true;
      const names = senders.map((p) => p.name).filter((n): n is string => n !== null);
      out.set(s.leg!, {
        uri: senders[0]?.aor ?? null,
        displayName: names.length > 0 ? names.join(', ') : null,
        role: caller ? 'caller' : 'other',
        stereo: side === 'left' && !caller ? 'none' : side,
      });
    });
    return out;
  }

  private resolve(): void {
    for (const label of this.streamLabels.values()) {
      if (label !== null && !this.streams.some((s) => s.label === label)) this.note(`metadata: stream label ${label.slice(0, 64)} is on no stream of the SDP`);
    }
    this.track();
  }

  /**
   * Links streams to metadata stream ids (by label) and to the participants that send them
   * now, the participants to their streams and stereo sides. Run at every change (metadata,
   * streams), so the streams' `senders` are timed by it.
   */
  private track(): void {
    // Stream id → the participants listing it, in metadata order (one pass, not one per stream).
    const listing = new Map<string, ParticipantState[]>();
    this.byKey.clear();
    for (const p of this.participants) {
      this.byKey.set(p.key, p);
      p.sends = [];
      p.labels = [];
      for (const id of p.sendIds) {
        const l = listing.get(id);
        if (!l) listing.set(id, [p]);
        else if (l.at(-1) !== p) l.push(p);
      }
    }
    const primaries = new Set<string>();
    for (const s of this.streams) {
      s.streamId = null;
      if (s.label !== null) for (const [id, label] of this.streamLabels) if (label === s.label) s.streamId = id;
      // Some SRCs name streams by label only, or give send lists of labels.
      const byId = s.streamId === null ? [] : (listing.get(s.streamId) ?? []);
      const byLabel = s.label === null || s.label === s.streamId ? [] : (listing.get(s.label) ?? []);
      const listed = byLabel.length === 0 ? byId : this.participants.filter((p) => byId.includes(p) || byLabel.includes(p));
      // Removed by a re-offer (port 0) after it was recorded: nobody sends it now, whatever the
      // metadata still lists; its senders end at the removal (RFC 3264 §8.2). Back in a later offer, they start again.
      const removed = s.leg === null && s.ended !== undefined;
      const { keys, dropped } = currentSenders(removed ? [] : listed, (s.senders ??= []), this.changedAt);
      if (dropped) this.note(`metadata: a stream's senders past ${MAX_SENDER_ENTRIES} changes: the oldest are left out`);
      this.senderKeys.set(s.index, keys);
      s.participant = keys[0] ?? null;
      if (s.leg !== null && keys[0] !== undefined) primaries.add(keys[0]);
      for (const p of listed) {
        if (s.leg) p.sends.push(s.leg);
        if (s.label !== null) p.labels.push(s.label);
      }
    }
    this.sides.update(this.participants.filter((p) => primaries.has(p.key)).map((p) => p.key));
    // A participant's side is that of the first of its streams that has one; one that left keeps the side it had.
    const sideOf = new Map<string, 'left' | 'right'>();
    for (const s of this.streams) {
      const keys = this.senderKeys.get(s.index) ?? [];
      const side = s.leg === null ? null : this.sides.of(keys[0]);
      if (side) for (const k of keys) if (!sideOf.has(k)) sideOf.set(k, side);
    }
    for (const p of this.participants) {
      const side = sideOf.get(p.key);
      if (side) p.stereo = side;
      else if (p.leftAt === null) p.stereo = null;
    }
  }

  toSidecar(): SiprecSidecar {
    this.resolve();
    return {
      callId: this.callId,
      sessionId: this.sessionId,
      groupId: this.groupId,
      sipSessionIds: [...this.sipSessionIds],
      dialect: this.dialect,
      participants: this.participants.map(({ key: _k, sendIds: _s, ...p }) => ({ ...p, aors: [...(p.aors ?? [])], sends: [...p.sends], labels: [...p.labels] })),
      streams: this.streams.map((s) => ({
        ...s,
        participant: this.idOf(s.participant),
        senders: (s.senders ?? []).map((h) => ({ ...h, participant: this.idOf(h.participant) })),
        pauses: s.pauses.map((p) => ({ ...p })),
        ...(s.ended ? { ended: s.ended.map((e) => ({ ...e })) } : {}),
      })),
      metadataVersions: this.versions.map((v) => ({ ...v })),
      updates: this.updates.map((u) => ({ ...u })),
      linked: [...this.linked],
      problems: [...this.problems],
    };
  }

  /** A participant's id as the SRC sent it (its key, an AOR, when it gave none). */
  private idOf(key: string | null): string | null {
    return key === null ? null : (this.byKey.get(key)?.id ?? key);
  }
}

// Compliance for recordings: owns the signing key, the audit log, the recordings
// index, legal holds and the retention sweeper (src/CLOSURES.md). Hooks into the
// RecordingService in two places only: its 'recorder' event (an audit `created`
// entry, the index) and one finalize step, `sign` (the signature file, an audit
// `finalized` entry with the signed content's sha256, the index). With
// recording.store, also the uploader: its 'stored' event (an audit `stored` entry
// with the object keys and hashes), verify of files only in the bucket, and a
// delete step removing the recording's objects. Everything it keeps lives in
// <recording.dir>/.parley/ unless configured elsewhere.
import { lstat, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { componentLogger, type Logger } from '../../util/logger.ts';
import { sha256File } from '../../util/sha256-file.ts';
import { keyFileName } from '../encryption/key-file.ts';
import { pathInside } from '../file-names.ts';
import type { FinalizedRecording, FinalizeStep } from '../finalize-recording.ts';
import type { RecordingMetadata } from '../metadata.ts';
import type { Recorder } from '../recorder.ts';
import type { RecordingService } from '../recording-service.ts';
import type { RecordingUploader, StoredRecording } from '../store/recording-uploader.ts';
import { AuditLog } from './audit-log.ts';
import { verifyAuditLog, type AuditReport } from './audit-verify.ts';
import type { IndexEntry } from './index-entry.ts';
import { LegalHolds, type Hold } from './legal-holds.ts';
import { RecordingIndex, type QueryPage, type RecordingQuery } from './recording-index.ts';
import { listedHashes, verifyRecording, type RecordingVerification } from './recording-verifier.ts';
import { RetentionSweeper } from './retention-sweeper.ts';
import { signatureFile, signSidecar, writeSignature } from './sidecar-signature.ts';
import { derivedListFile, readDerived } from '../derived-files.ts';
import { SigningKey } from './signing-key.ts';
import { bucketDeleteStep, type DeleteStep } from './stored-objects.ts';

export interface ComplianceOptions {
  /** recording.dir */
  dir: string;
  /** recording.signing.keyFile (null: generated in the state folder) */
  keyFile: string | null;
  /** recording.auditLog (null: in the state folder) */
  auditLog: string | null;
  /** recording.retention */
  retention: { days: number | null; sweepIntervalSec: number };
  log: Logger;
  /** Tests and benchmarks: this key instead of loading one. */
  key?: SigningKey;
}

/** Where compliance keeps its state: <recording.dir>/.parley/ (not a recording id: ids never start with a dot). */
export function stateDir(recordingDir: string): string {
  return join(recordingDir, '.parley');
}

export function defaultAuditLog(recordingDir: string): string {
  return join(stateDir(recordingDir), 'audit.jsonl');
}

const SIGN_RETRY_MS = 5000;
const SIGN_RETRIES = 60;

export class HoldError extends Error {
  override name = 'HoldError';
  constructor(
    readonly kind: 'not_found' | 'held',
    message: string,
  ) {
    super(message);
  }
}

export class ComplianceService {
  readonly holds: LegalHolds;
  readonly index: RecordingIndex;
  readonly sweeper: RetentionSweeper;
  /** The finalize step that signs; RecordingService.finalizeSteps runs it first. */
  readonly signStep: FinalizeStep;
  /**
   * Run by delete(), in order: each `prepare` before the `deleted` entry (its details
   * go into the entry; one that throws, e.g. a bucket down, stops the delete with
   * nothing logged or removed), each `run` after the entry is on disk and before the
   * local files go (e.g. removing the recording's objects from the bucket: attach()
   * adds that step with recording.store). One that throws stops the delete: a
   * `delete.failed` entry is logged, nothing local is removed, the sweeper tries again later.
   */
  readonly deleteSteps: DeleteStep[] = [];
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly log: Logger;
  private recordings: RecordingService | null = null;
  private store: RecordingUploader | null = null;
  private readonly onStored = (s: StoredRecording): void => {
    const objects = s.objects.map((o) => ({ file: o.file, key: o.key, size: o.size, sha256: o.sha256 }));
    this.audit
      .append('stored', s.id, 'parley', { bucket: s.bucket, objects, removedLocal: s.removed })
      .catch((err: unknown) => this.log.error({ err, recording: s.id }, 'audit: stored not logged'));
  };
  private readonly onRecorder = (r: Recorder): void => {
    // After the caller leg is added (right after createRecorder): the entry and the index know it.
    queueMicrotask(() => this.created(r));
  };
  /** Recordings of this process not finalized yet: the audit log stays open for their `finalized` entries. */
  private readonly finalizing = new Set<Promise<unknown>>();
  private readonly unsigned = new Map<string, { r: FinalizedRecording; left: number }>();
  private signRetryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    private readonly o: ComplianceOptions,
    readonly key: SigningKey,
    readonly audit: AuditLog,
  ) {
    this.log = o.log;
    const state = stateDir(o.dir);
    this.holds = new LegalHolds(join(state, 'holds'));
    this.index = new RecordingIndex(o.dir, join(state, 'index.jsonl'), this.log);
    this.sweeper = new RetentionSweeper(
      { entries: this.index.all, isHeld: (id) => this.holds.isHeld(id), delete: (id, actor, d) => this.delete(id, actor, d, { waitForUpload: true }) },
      o.retention.days,
      o.retention.sweepIntervalSec * 1000,
      this.log,
    );
    this.signStep = { name: 'sign', run: (r) => this.sign(r) };
  }

  /** Loads (or generates) the key, opens the audit log, loads holds and the index. */
  static async start(o: ComplianceOptions): Promise<ComplianceService> {
    const log = componentLogger(o.log, 'compliance');
    const key = o.key ?? (await SigningKey.load(o.keyFile, join(stateDir(o.dir), 'signing-key.pem')));
    if (key.generated && key.file !== '(memory)') log.warn({ file: key.file, keyId: key.id, publicKey: key.pem }, 'recording signing key generated (recording.signing.keyFile is not set): keep it safe, publish its public key');
    else log.info({ keyId: key.id, publicKey: key.pem }, 'recording signing key');
    const audit = await AuditLog.open(o.auditLog ?? defaultAuditLog(o.dir), key, log);
    const svc = new ComplianceService({ ...o, log }, key, audit);
    try {
      await svc.holds.load();
      await mkdir(o.dir, { recursive: true });
    } catch (err) {
      svc.close();
      throw err;
    }
    // In the background: with 100,000 recordings and no journal it reads every sidecar.
    // Searches wait for it; calls, recordings, signing and holds do not.
    const t0 = performance.now();
    svc.index.open().then(
      // Closed meanwhile (a start-up that failed): nothing to report after "start-up failed".
      () => svc.closed || log.info({ recordings: svc.index.size, held: svc.holds.size, ms: Math.round(performance.now() - t0), ...svc.index.stats }, 'recordings index ready'),
      (err: unknown) => svc.closed || log.error({ err }, 'recordings index could not be loaded: searches answer from what is known'),
    );
    return svc;
  }

  /** Follows the service's recorders and signs what it finalizes (the step goes first), then starts the sweeper. */
  attach(recordings: RecordingService): void {
    this.recordings = recordings;
    recordings.on('recorder', this.onRecorder);
    recordings.finalizeSteps.unshift(this.signStep);
    this.store = recordings.store;
    if (this.store) {
      this.store.on('stored', this.onStored);
      this.deleteSteps.push(bucketDeleteStep(this.store.bucket));
    }
    // The sweeper looks at the index: once it is loaded.
    this.index.ready.then(
      () => this.sweeper.start(),
      () => this.sweeper.start(),
    );
  }

  get auditFile(): string {
    return this.audit.path;
  }

  private created(r: Recorder): void {
    const p: Promise<unknown> = r.finalized.finally(() => this.finalizing.delete(p));
    this.finalizing.add(p);
    // Read now (the index entry and the audit details are copies of what they need): no clone.
    const meta = r.metadataNow;
    this.index.putMeta(r.id, meta);
    const caller = meta.legs.find((l) => l.role === 'caller');
    this.audit
      .append('created', r.id, 'parley', { room: meta.room, flow: meta.flow ?? null, rule: meta.rule ?? null, callId: caller?.callId ?? null })
      .catch((err: unknown) => this.log.error({ err, recording: r.id }, 'audit: created not logged'));
  }

  /**
   * A recording whose signature or `finalized` entry could not be written (a full
   * disk) is tried again every SIGN_RETRY_MS, SIGN_RETRIES times, from this process
   * (a later start never signs a finalized recording: that would bless an edit).
   */
  private async sign(r: FinalizedRecording): Promise<void> {
    try {
      await this.signOnce(r);
    } catch (err) {
      this.log.error({ err, recording: r.id }, 'recording not signed yet (tried again in a few seconds)');
      this.unsigned.set(r.id, { r, left: SIGN_RETRIES });
      this.scheduleSignRetry();
    }
  }

  private scheduleSignRetry(): void {
    if (this.signRetryTimer || this.closed) return;
    this.signRetryTimer = setTimeout(() => {
      this.signRetryTimer = null;
      void (async () => {
        for (const [id, u] of [...this.unsigned]) {
          try {
            await this.signOnce(u.r);
            this.unsigned.delete(id);
            this.log.info({ recording: id }, 'recording signed after all');
          } catch (err) {
            if (--u.left <= 0) {
              this.unsigned.delete(id);
              this.log.error({ err, recording: id }, 'recording left unsigned: verify will say so');
            }
          }
        }
        if (this.unsigned.size > 0) this.scheduleSignRetry();
      })();
    }, SIGN_RETRY_MS);
    this.signRetryTimer.unref();
  }

  private async signOnce(r: FinalizedRecording): Promise<void> {
    const sig = signSidecar(r.id, r.meta, this.key);
    await writeSignature(r.pathOf(signatureFile(r.id)), sig);
    this.index.putMeta(r.id, r.meta);
    await this.audit.append('finalized', r.id, 'parley', {
      sidecarSha256: sig.sha256,
      files: listedHashes(r.meta).map((f) => ({ file: f.file, sha256: f.sha256 })),
      ...(r.meta.interrupted ? { interrupted: true } : {}),
      ...(r.recovered ? { recovered: true } : {}),
    });
  }

  /** One operation per recording at a time (hold, release, delete). */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const p = prev.then(fn, fn);
    const tail = p.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return p;
  }

  private async exists(id: string): Promise<boolean> {
    return (await lstat(pathInside(this.o.dir, `${id}.json`)).catch(() => null))?.isFile() ?? false;
  }

  /** Puts a recording on legal hold (idempotent: a second hold keeps the first's details). */
  hold(id: string, actor: string, reason: string | null): Promise<Hold> {
    return this.locked(id, async () => {
      if (!(await this.exists(id))) throw new HoldError('not_found', `no recording '${id}'`);
      const had = this.holds.get(id);
      if (had) return had;
      const h: Hold = { since: new Date().toISOString(), by: actor, reason };
      // Held first, then logged; a log that cannot be written undoes the hold (the caller gets the error).
      await this.holds.hold(id, h);
      try {
        await this.audit.append('held', id, actor, { reason });
      } catch (err) {
        await this.holds.release(id).catch(() => undefined);
        throw err;
      }
      return h;
    });
  }

  /** Lifts a legal hold; false when there was none. */
  release(id: string, actor: string, reason: string | null): Promise<boolean> {
    return this.locked(id, async () => {
      const h = this.holds.get(id);
      if (!h) return false;
      await this.holds.release(id);
      try {
        await this.audit.append('released', id, actor, { reason });
      } catch (err) {
        await this.holds.hold(id, h).catch(() => undefined);
        throw err;
      }
      return true;
    });
  }

  /**
   * Deletes a finalized recording that is not on hold: hashes every file, logs a
   * `deleted` entry with them (on disk before anything goes), then removes the
   * files, the key file, the signature and the sidecar last. With recording.store its
   * upload is withdrawn first: `waitForUpload` (retention) leaves a recording whose
   * upload is pending alone (resolves false; deleted once stored), otherwise the pending
   * upload is cancelled and whatever it already uploaded goes with the rest. Resolves
   * false when it is held, gone or waits for its upload.
   */
  delete(id: string, actor: string, details: Record<string, unknown> = {}, o: { waitForUpload?: boolean } = {}): Promise<boolean> {
    return this.locked(id, async () => {
      if (this.holds.isHeld(id)) return false;
      const sidecarPath = pathInside(this.o.dir, `${id}.json`);
      let meta: RecordingMetadata;
      try {
        meta = JSON.parse(await readFile(sidecarPath, 'utf8')) as RecordingMetadata;
      } catch {
        this.index.remove(id);
        return false;
      }
      if (meta.state !== 'finalized') return false;
      const undo = this.store ? await this.store.withdraw(id, !o.waitForUpload) : async () => undefined;
      if (!undo) {
        this.log.info({ recording: id, actor }, 'recording not deleted yet: its upload is pending (deleted once stored)');
        return false;
      }
      // The key file too (encryption): left behind, rotate-key would re-wrap and upload it again.
      // What `parley recordings encode` made since (derived-files.ts) goes too: audio kept past its retention otherwise.
      const derived = (await readDerived(this.o.dir, id).catch(() => [])).map((d) => d.file);
      const names = [...listedHashes(meta).map((f) => f.file), ...derived, derivedListFile(id), meta.encryption?.keyFile ?? keyFileName(id), signatureFile(id), `${id}.json`];
      const files: { file: string; sha256: string | null }[] = [];
      let prepared: Record<string, unknown> = {};
      try {
        for (const file of names) {
          const path = pathInside(this.o.dir, file);
          const st = await lstat(path).catch(() => null);
          if (st?.isFile()) files.push({ file, sha256: await sha256File(path) });
        }
        for (const step of this.deleteSteps) if (step.prepare) prepared = { ...prepared, ...(await step.prepare(id, meta)) };
        await this.audit.append('deleted', id, actor, { ...details, files, ...prepared });
      } catch (err) {
        // Nothing logged or removed: the upload is pending again as it was.
        await undo();
        throw err;
      }
      try {
        for (const step of this.deleteSteps) await step.run(id, meta);
        for (const f of files) await rm(pathInside(this.o.dir, f.file), { force: true });
      } catch (err) {
        await this.audit.append('delete.failed', id, actor, { error: (err as Error).message }).catch(() => undefined);
        throw err;
      }
      this.index.remove(id);
      this.log.info({ recording: id, actor, files: files.length }, 'recording deleted');
      return true;
    });
  }

  /** GET /recordings/:id/files/:file, logged before the answer: `exported` (the whole file's sha256 as read; `range`: the part sent, `bytes=a-b/total`), or `export.refused` (altered: `expected` is the sidecar's). */
  async exported(id: string, file: string, actor: string, sha256: string | null, o: { from?: string; decrypted?: boolean; range?: string; expected?: string } = {}): Promise<void> {
    await this.audit.append(o.expected !== undefined ? 'export.refused' : 'exported', id, actor, { file, sha256, ...o });
  }

  /** Index search; `held` filters on legal hold. Waits for sidecars the folder watch just noticed. */
  async search(q: Omit<RecordingQuery, 'where'> & { held?: boolean }): Promise<QueryPage> {
    await this.index.settled();
    const held = q.held;
    if (held === true) return this.index.query({ ...q, among: this.holds.ids() });
    return this.index.query({ ...q, ...(held === undefined ? {} : { where: (e: IndexEntry) => !this.holds.isHeld(e.id) }) });
  }

  /** A SIPREC group's recordings of the last day, earliest first (sessions of one group follow each other within a call). */
  groupRecordings(group: string): string[] {
    return this.index.query({ group, since: Date.now() - 86_400_000, limit: 100 }).entries.map((e) => e.id).reverse();
  }

  /** Checks one recording (files, signature, audit); files only in recording.store there (`deep`: their bytes). */
  async verify(id: string, audit?: AuditReport, deep = false): Promise<{ recording: RecordingVerification; audit: AuditReport }> {
    await this.audit.settled();
    const report = audit ?? (await verifyAuditLog(this.audit.path, this.key));
    const store = this.store ? { bucket: this.store.bucket, deep } : null;
    return { recording: await verifyRecording({ dir: this.o.dir, id, key: this.key, audit: report, store }), audit: report };
  }

  /**
   * Resolves once the recordings of this process are finalized and signed (at most
   * `timeoutMs`) and the audit log and the index journal hold everything so far.
   */
  async settled(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
    await Promise.race([Promise.allSettled([...this.finalizing]), timeout]);
    clearTimeout(timer);
    await this.audit.settled();
    await this.index.flushed();
  }

  /**
   * Synchronous and idempotent: the sweeper and the folder watch stop now; the audit
   * log closes once the recordings still finalizing have their `finalized` entries
   * (settled(): at most 10 s).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.recordings?.off('recorder', this.onRecorder);
    this.store?.off('stored', this.onStored);
    if (this.signRetryTimer) clearTimeout(this.signRetryTimer);
    this.signRetryTimer = null;
    this.sweeper.close();
    this.index.close();
    this.settled().then(
      () => this.audit.close(),
      () => this.audit.close(),
    );
  }
}

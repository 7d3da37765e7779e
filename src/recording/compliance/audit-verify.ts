// Checks the audit log's chain from the first line to the last (streamed: the
// log may be large) and against its signed head, and gathers each recording's
// entries for the per-recording checks (recording-verifier.ts). Every problem
// names its line.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { GENESIS, headIsSigned, readHead, type AuditEntry } from './audit-log.ts';
import { sha256Hex } from './canonical-json.ts';
import type { VerifyKey } from './signing-key.ts';

export interface AuditProblem {
  kind: 'audit-unreadable' | 'audit-chain' | 'audit-seq' | 'audit-truncated' | 'audit-head' | 'audit-missing';
  line?: number;
  message: string;
}

export interface AuditLine {
  line: number;
  entry: AuditEntry;
}

export interface AuditReport {
  file: string;
  ok: boolean;
  lines: number;
  lastSeq: number;
  problems: AuditProblem[];
  /** Each recording's entries, in log order. */
  byRecording: Map<string, AuditLine[]>;
}

/** Problems listed at most (a log broken at its first line would otherwise list every line). */
const MAX_PROBLEMS = 50;

export async function verifyAuditLog(file: string, key: VerifyKey | null): Promise<AuditReport> {
  const report: AuditReport = { file, ok: true, lines: 0, lastSeq: 0, problems: [], byRecording: new Map() };
  const add = (p: AuditProblem): void => {
    report.ok = false;
    if (report.problems.length < MAX_PROBLEMS) report.problems.push(p);
  };
  let prevHash = GENESIS;
  let expectSeq = 1;
  const seqHash = new Map<number, string>();
  let stream;
  try {
    stream = createReadStream(file, { encoding: 'utf8' });
    await new Promise<void>((resolve, reject) => stream!.once('open', () => resolve()).once('error', reject));
  } catch (err) {
    add({ kind: 'audit-missing', message: `the audit log ${file} cannot be read: ${(err as Error).message}` });
    return report;
  }
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  for await (const text of rl) {
    n++;
    const hash = sha256Hex(text);
    let entry: AuditEntry | null = null;
    try {
      const parsed = JSON.parse(text) as AuditEntry;
      if (parsed && typeof parsed === 'object' && typeof parsed.seq === 'number' && typeof parsed.prev === 'string') entry = parsed;
    } catch {
      entry = null;
    }
    if (!entry) {
      add({ kind: 'audit-unreadable', line: n, message: `audit log line ${n}: not an entry (edited or torn)` });
      prevHash = hash;
      expectSeq++;
      continue;
    }
    if (entry.prev !== prevHash) {
      add({
        kind: 'audit-chain',
        line: n,
        message: `audit log: the chain is broken at line ${n}: it says the line before has sha256 ${entry.prev.slice(0, 16)}…, ${n === 1 ? 'a first line has none' : `line ${n - 1} has ${prevHash.slice(0, 16)}…`} (a line was edited, removed, inserted or moved)`,
      });
    }
    if (entry.seq !== expectSeq) {
      add({ kind: 'audit-seq', line: n, message: `audit log line ${n}: seq ${entry.seq}, expected ${expectSeq} (lines removed, inserted or reordered)` });
    }
    if (entry.event === 'audit.truncated') {
      add({ kind: 'audit-truncated', line: n, message: `audit log line ${n}: at a start the log ended at seq ${String(entry.lastSeq)} but its signed head said seq ${String(entry.headSeq)}: lines had been removed from its end` });
    }
    if (typeof entry.recording === 'string') {
      let list = report.byRecording.get(entry.recording);
      if (!list) report.byRecording.set(entry.recording, (list = []));
      list.push({ line: n, entry });
    }
    seqHash.set(entry.seq, hash);
    prevHash = hash;
    expectSeq = entry.seq + 1;
    report.lastSeq = entry.seq;
  }
  report.lines = n;
  const head = await readHead(file);
  if (head) {
    if (key && !headIsSigned(head, key)) add({ kind: 'audit-head', message: `the audit log's head (${file}.head) is not signed by the trusted key` });
    else if (head.seq > report.lastSeq) {
      add({ kind: 'audit-truncated', line: n, message: `the audit log ends at seq ${report.lastSeq} (line ${n}) but its signed head says seq ${head.seq}: it was truncated` });
    } else if (seqHash.has(head.seq) && seqHash.get(head.seq) !== head.hash) {
      add({ kind: 'audit-head', message: `the audit log's entry seq ${head.seq} is not the one its signed head names (sha256 ${head.hash.slice(0, 16)}…): the log was rewritten` });
    }
  } else if (n > 0 && key) {
    add({ kind: 'audit-head', message: `the audit log has no signed head (${file}.head)` });
  }
  return report;
}

// Recordings of SIPREC sessions that share a group id (RFC 7865 §6.2: a transfer
// ends one recording session and starts another in the same group). Kept in
// memory; a group this process has not seen yet starts from the recordings of it
// on disk (`earlier`: the recordings index, so a session after a restart is linked
// to those before it). GET /recordings?group= finds them all from the sidecars.

const MAX_GROUPS = 10_000;

export class SiprecGroups {
  private readonly groups = new Map<string, string[]>();

  constructor(private readonly earlier: (groupId: string) => string[] = () => []) {}

  /** Adds a recording to its group; returns the group's other recordings, earlier first. */
  link(groupId: string, recordingId: string): string[] {
    let ids = this.groups.get(groupId);
    if (!ids) {
      if (this.groups.size >= MAX_GROUPS) this.groups.delete(this.groups.keys().next().value!);
      ids = this.earlier(groupId).filter((id) => id !== recordingId);
      this.groups.set(groupId, ids);
    }
    if (!ids.includes(recordingId)) ids.push(recordingId);
    return ids.filter((id) => id !== recordingId);
  }
}

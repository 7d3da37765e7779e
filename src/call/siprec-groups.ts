// Recordings of SIPREC sessions that share a group id (RFC 7865 §6.2: a transfer
// ends one recording session and starts another in the same group). Kept in
// memory for the sessions this process recorded; GET /recordings?group= finds
// them all, across restarts, from the sidecars.

const MAX_GROUPS = 10_000;

export class SiprecGroups {
  private readonly groups = new Map<string, string[]>();

  /** Adds a recording to its group; returns the group's other recordings, earlier first. */
  link(groupId: string, recordingId: string): string[] {
    let ids = this.groups.get(groupId);
    if (!ids) {
      if (this.groups.size >= MAX_GROUPS) this.groups.delete(this.groups.keys().next().value!);
      ids = [];
      this.groups.set(groupId, ids);
    }
    if (!ids.includes(recordingId)) ids.push(recordingId);
    return ids.filter((id) => id !== recordingId);
  }
}

// The SDP of a synthetic PCMU party on loopback (bench:floor's callers and callees).
export const pcmuSdp = (port: number, id: number): string =>
  ['v=0', `o=- ${id} 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=sendrecv', ''].join('\r\n');

// At start, the addresses every SIP leg's RTP socket binds to are tried once: an address
// that is not this machine's (a typo, a config copied from another host) stops start-up
// naming its key, instead of every call failing later (each leg's bind: EADDRNOTAVAIL).
import dgram from 'node:dgram';

/** Binds and closes a UDP socket on each configured RTP address; rejects naming the key of the first that cannot be bound. */
export async function checkMediaAddresses(media: { rtpIp: string; rtpIp6?: string | null }): Promise<void> {
  const tries: Array<[key: string, ip: string, type: 'udp4' | 'udp6']> = [['media.rtpIp', media.rtpIp, 'udp4']];
  if (media.rtpIp6) tries.push(['media.rtpIp6', media.rtpIp6, 'udp6']);
  for (const [key, ip, type] of tries) {
    await new Promise<void>((resolve, reject) => {
      const s = dgram.createSocket(type);
      s.once('error', (err) => {
        s.close();
        reject(Object.assign(new Error(`${key}: cannot bind RTP to ${ip}: ${err.message} (is it an address of this machine?)`, { cause: err }), { code: (err as NodeJS.ErrnoException).code }));
      });
      s.bind(0, ip, () => {
        s.close();
        resolve();
      });
    });
  }
}

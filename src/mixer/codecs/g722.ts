// G.722 (ITU-T G.722, 64 kbit/s mode): a 24-tap QMF splits 16 kHz audio into
// two 8 kHz sub-bands, coded by sub-band ADPCM: 6 bits for the lower band,
// 2 bits for the higher one. Written from the Recommendation's block diagram
// (blocks 1L–6L, 1H–6H and the shared predictor, block 4).
import type { AudioDecoder, AudioEncoder } from './audio-codec.ts';

const QMF = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];
const Q6 = [0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0];
const ILN = [0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 0];
const ILP = [0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 0];
const WL = [-60, -30, 58, 172, 334, 538, 1198, 3042];
const RL42 = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
const ILB = [2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008];
const QM4 = [0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0];
const QM6 = [-136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136];
const IHN = [0, 1, 0];
const IHP = [0, 3, 2];
const WH = [0, -214, 798];
const RH2 = [2, 1, 2, 1];
const QM2 = [-7408, -1616, 7408, 1616];

function sat(x: number): number {
  return x > 32767 ? 32767 : x < -32768 ? -32768 : x;
}

/** One sub-band's adaptive predictor state (block 4). */
class Band {
  s = 0;
  sp = 0;
  sz = 0;
  r = [0, 0, 0];
  a = [0, 0, 0];
  ap = [0, 0, 0];
  p = [0, 0, 0];
  d = [0, 0, 0, 0, 0, 0, 0];
  b = [0, 0, 0, 0, 0, 0, 0];
  bp = [0, 0, 0, 0, 0, 0, 0];
  sg = [0, 0, 0, 0, 0, 0, 0];
  nb = 0;
  det: number;
  constructor(det: number) {
    this.det = det;
  }

  update(dq: number): void {
    this.d[0] = dq;
    this.r[0] = sat(this.s + dq);
    this.p[0] = sat(this.sz + dq);
    // UPPOL2
    for (let i = 0; i < 3; i++) this.sg[i] = this.p[i] >> 15;
    let wd1 = sat(this.a[1] * 4);
    let wd2 = this.sg[0] === this.sg[1] ? -wd1 : wd1;
    if (wd2 > 32767) wd2 = 32767;
    let wd3 = (wd2 >> 7) + (this.sg[0] === this.sg[2] ? 128 : -128);
    wd3 += (this.a[2] * 32512) >> 15;
    this.ap[2] = wd3 > 12288 ? 12288 : wd3 < -12288 ? -12288 : wd3;
    // UPPOL1
    this.sg[0] = this.p[0] >> 15;
    this.sg[1] = this.p[1] >> 15;
    wd1 = this.sg[0] === this.sg[1] ? 192 : -192;
    wd2 = (this.a[1] * 32640) >> 15;
    this.ap[1] = sat(wd1 + wd2);
    wd3 = sat(15360 - this.ap[2]);
    if (this.ap[1] > wd3) this.ap[1] = wd3;
    else if (this.ap[1] < -wd3) this.ap[1] = -wd3;
    // UPZERO
    wd1 = dq === 0 ? 0 : 128;
    this.sg[0] = dq >> 15;
    for (let i = 1; i < 7; i++) {
      this.sg[i] = this.d[i] >> 15;
      wd2 = this.sg[i] === this.sg[0] ? wd1 : -wd1;
      wd3 = (this.b[i] * 32640) >> 15;
      this.bp[i] = sat(wd2 + wd3);
    }
    // DELAYA
    for (let i = 6; i > 0; i--) {
      this.d[i] = this.d[i - 1];
      this.b[i] = this.bp[i];
    }
    for (let i = 2; i > 0; i--) {
      this.r[i] = this.r[i - 1];
      this.p[i] = this.p[i - 1];
      this.a[i] = this.ap[i];
    }
    // FILTEP
    wd1 = sat(this.r[1] + this.r[1]);
    wd1 = (this.a[1] * wd1) >> 15;
    wd2 = sat(this.r[2] + this.r[2]);
    wd2 = (this.a[2] * wd2) >> 15;
    this.sp = sat(wd1 + wd2);
    // FILTEZ
    let sz = 0;
    for (let i = 6; i > 0; i--) {
      wd1 = sat(this.d[i] + this.d[i]);
      sz += (this.b[i] * wd1) >> 15;
    }
    this.sz = sat(sz);
    // PREDIC
    this.s = sat(this.sp + this.sz);
  }
}

/** Blocks 3L/3H: log-scale factor adaptation and its conversion to linear. */
function scale(band: Band, wIndexed: number, limit: number, shift: number): void {
  let nb = ((band.nb * 127) >> 7) + wIndexed;
  nb = nb < 0 ? 0 : nb > limit ? limit : nb;
  band.nb = nb;
  const wd1 = (nb >> 6) & 31;
  const wd2 = shift - (nb >> 11);
  const wd3 = wd2 < 0 ? ILB[wd1] << -wd2 : ILB[wd1] >> wd2;
  band.det = wd3 << 2;
}

export class G722Encoder implements AudioEncoder {
  readonly rate = 16000;
  private readonly low = new Band(32);
  private readonly high = new Band(8);
  private readonly x = new Int32Array(24);

  encode(pcm: Int16Array, out: Uint8Array): number {
    const x = this.x;
    let o = 0;
    for (let j = 0; j + 1 < pcm.length; j += 2) {
      x.copyWithin(0, 2, 24);
      x[22] = pcm[j];
      x[23] = pcm[j + 1];
      let sumodd = 0;
      let sumeven = 0;
      for (let i = 0; i < 12; i++) {
        sumodd += x[2 * i] * QMF[i];
        sumeven += x[2 * i + 1] * QMF[11 - i];
      }
      const xlow = (sumeven + sumodd) >> 14;
      const xhigh = (sumeven - sumodd) >> 14;
      // Lower band: blocks 1L (SUBTRA, QUANTL), 2L, 3L, 4L.
      const el = sat(xlow - this.low.s);
      let wd = el >= 0 ? el : -(el + 1);
      let i = 1;
      for (; i < 30; i++) if (wd < (Q6[i] * this.low.det) >> 12) break;
      const ilow = el < 0 ? ILN[i] : ILP[i];
      const ril = ilow >> 2;
      const dlow = (this.low.det * QM4[ril]) >> 15;
      scale(this.low, WL[RL42[ril]], 18432, 8);
      this.low.update(dlow);
      // Higher band: blocks 1H, 2H, 3H, 4H.
      const eh = sat(xhigh - this.high.s);
      wd = eh >= 0 ? eh : -(eh + 1);
      const mih = wd >= (564 * this.high.det) >> 12 ? 2 : 1;
      const ihigh = eh < 0 ? IHN[mih] : IHP[mih];
      const dhigh = (this.high.det * QM2[ihigh]) >> 15;
      scale(this.high, WH[RH2[ihigh]], 22528, 10);
      this.high.update(dhigh);
      out[o++] = (ihigh << 6) | ilow;
    }
    return o;
  }
  close(): void {}
}

export class G722Decoder implements AudioDecoder {
  readonly rate = 16000;
  private readonly low = new Band(32);
  private readonly high = new Band(8);
  private readonly x = new Int32Array(24);

  decode(payload: Uint8Array, out: Int16Array): number {
    const x = this.x;
    let o = 0;
    for (let j = 0; j < payload.length && o + 1 < out.length; j++) {
      const code = payload[j];
      const ilow = code & 0x3f;
      const ihigh = (code >> 6) & 0x03;
      // Block 5L: lower band reconstruction from all 6 bits.
      let rlow = this.low.s + ((this.low.det * QM6[ilow]) >> 15);
      rlow = rlow > 16383 ? 16383 : rlow < -16384 ? -16384 : rlow;
      // Blocks 2L, 3L, 4L run on the 4-bit core, as the encoder's do.
      const ril = ilow >> 2;
      const dlow = (this.low.det * QM4[ril]) >> 15;
      scale(this.low, WL[RL42[ril]], 18432, 8);
      this.low.update(dlow);
      // Higher band.
      const dhigh = (this.high.det * QM2[ihigh]) >> 15;
      let rhigh = dhigh + this.high.s;
      rhigh = rhigh > 16383 ? 16383 : rhigh < -16384 ? -16384 : rhigh;
      scale(this.high, WH[RH2[ihigh]], 22528, 10);
      this.high.update(dhigh);
      // Receive QMF.
      x.copyWithin(0, 2, 24);
      x[22] = rlow + rhigh;
      x[23] = rlow - rhigh;
      let xout1 = 0;
      let xout2 = 0;
      for (let i = 0; i < 12; i++) {
        xout2 += x[2 * i] * QMF[i];
        xout1 += x[2 * i + 1] * QMF[11 - i];
      }
      out[o++] = sat(xout1 >> 11);
      out[o++] = sat(xout2 >> 11);
    }
    return o;
  }
  conceal(out: Int16Array): number {
    out.fill(0, 0, 320);
    return 320;
  }
  close(): void {}
}

/**
 * AES-256-CBC with PKCS#7 padding (the Double Ratchet's and sender keys' message cipher), written from FIPS 197
 * (key expansion §5.2, the cipher §5.1 and the equivalent inverse cipher §5.3.5, in the usual 32-bit table form)
 * and SP 800-38A §6.2 (CBC). libsodium has no AES-CBC, and @noble/ciphers' general-purpose AES (the oracle in the
 * tests) spent several times longer per 160-byte message, most of it in per-call set-up; here the tables are
 * built once and the key schedules live in two reused buffers that are wiped after each call.
 *
 * Like most table-based software AES (noble's included) it is not constant-time with respect to cache timing; the
 * protocol only decrypts after the MAC has been checked. Returns null instead of throwing on a bad length or bad
 * padding so callers can map it to their own error. Does not do other key sizes or modes.
 */

/** AES-256: 14 rounds, 4·(14 + 1) round-key words. */
const ROUNDS = 14;
const SCHEDULE_WORDS = 4 * (ROUNDS + 1);

const SBOX = new Uint8Array(256);
const INV_SBOX = new Uint8Array(256);
/** Encryption tables: T0[x] = (2·S[x], S[x], S[x], 3·S[x]) as a big-endian word; T1..T3 are its rotations. */
const T0 = new Uint32Array(256);
const T1 = new Uint32Array(256);
const T2 = new Uint32Array(256);
const T3 = new Uint32Array(256);
/** Decryption tables: D0[x] = (14·S⁻¹[x], 9·S⁻¹[x], 13·S⁻¹[x], 11·S⁻¹[x]); D1..D3 its rotations. */
const D0 = new Uint32Array(256);
const D1 = new Uint32Array(256);
const D2 = new Uint32Array(256);
const D3 = new Uint32Array(256);
{
  /** Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1. */
  const mul = (a: number, b: number): number => {
    let r = 0;
    for (let i = 0; i < 8; i++) {
      if (b & 1) r ^= a;
      const hi = a & 0x80;
      a = (a << 1) & 0xff;
      if (hi) a ^= 0x1b;
      b >>= 1;
    }
    return r;
  };
  // S-box (FIPS 197 §5.1.1): the multiplicative inverse followed by the affine transformation.
  for (let x = 0; x < 256; x++) {
    let inv = 0;
    if (x !== 0) for (inv = 1; mul(x, inv) !== 1; inv++);
    let s = inv;
    for (let i = 1; i <= 4; i++) s ^= ((inv << i) | (inv >> (8 - i))) & 0xff;
    s ^= 0x63;
    SBOX[x] = s;
    INV_SBOX[s] = x;
  }
  const rot = (w: number): number => ((w >>> 8) | (w << 24)) >>> 0;
  for (let x = 0; x < 256; x++) {
    const s = SBOX[x] as number;
    const t = ((mul(s, 2) << 24) | (s << 16) | (s << 8) | mul(s, 3)) >>> 0;
    T0[x] = t;
    T1[x] = rot(t);
    T2[x] = rot(rot(t));
    T3[x] = rot(rot(rot(t)));
    const v = INV_SBOX[x] as number;
    const d = ((mul(v, 14) << 24) | (mul(v, 9) << 16) | (mul(v, 13) << 8) | mul(v, 11)) >>> 0;
    D0[x] = d;
    D1[x] = rot(d);
    D2[x] = rot(rot(d));
    D3[x] = rot(rot(rot(d)));
  }
}

/** Round constants of the AES-256 key expansion (x^i in GF(2^8)), one per 8 words. */
const RCON = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40];

/** The key schedules of the current call (secret; wiped before returning). */
const ENC_KEY = new Uint32Array(SCHEDULE_WORDS);
const DEC_KEY = new Uint32Array(SCHEDULE_WORDS);

function readWord(b: Uint8Array, o: number): number {
  return (
    (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0
  );
}

function writeWord(b: Uint8Array, o: number, w: number): void {
  b[o] = w >>> 24;
  b[o + 1] = (w >>> 16) & 0xff;
  b[o + 2] = (w >>> 8) & 0xff;
  b[o + 3] = w & 0xff;
}

function subWord(w: number): number {
  return (
    (((SBOX[w >>> 24] as number) << 24) |
      ((SBOX[(w >>> 16) & 0xff] as number) << 16) |
      ((SBOX[(w >>> 8) & 0xff] as number) << 8) |
      (SBOX[w & 0xff] as number)) >>>
    0
  );
}

/** FIPS 197 §5.2 (Nk = 8) into ENC_KEY. */
function expandKey(key: Uint8Array): void {
  if (key.length !== 32) throw new RangeError('AES-256: the key must be 32 bytes');
  const w = ENC_KEY;
  for (let i = 0; i < 8; i++) w[i] = readWord(key, 4 * i);
  for (let i = 8; i < SCHEDULE_WORDS; i++) {
    let t = w[i - 1] as number;
    if (i % 8 === 0) t = subWord(((t << 8) | (t >>> 24)) >>> 0) ^ ((RCON[i / 8 - 1] as number) << 24);
    else if (i % 8 === 4) t = subWord(t);
    w[i] = ((w[i - 8] as number) ^ t) >>> 0;
  }
}

/** The equivalent inverse cipher's schedule (§5.3.5) into DEC_KEY: rounds reversed, InvMixColumns on the middle. */
function expandDecryptionKey(key: Uint8Array): void {
  expandKey(key);
  for (let r = 0; r <= ROUNDS; r++) {
    for (let c = 0; c < 4; c++) {
      const w = ENC_KEY[4 * (ROUNDS - r) + c] as number;
      DEC_KEY[4 * r + c] =
        r === 0 || r === ROUNDS
          ? w
          : ((D0[SBOX[w >>> 24] as number] as number) ^
              (D1[SBOX[(w >>> 16) & 0xff] as number] as number) ^
              (D2[SBOX[(w >>> 8) & 0xff] as number] as number) ^
              (D3[SBOX[w & 0xff] as number] as number)) >>>
            0;
    }
  }
  ENC_KEY.fill(0);
}

/** One block state, kept in module scope so that the block functions allocate nothing. */
const S = new Uint32Array(4);

/** The last round of either direction: one S-box byte from each of four words, then the round key. */
function lastRound(box: Uint8Array, a: number, b: number, c: number, d: number, rk: number): number {
  return (
    (((box[a >>> 24] as number) << 24) |
      ((box[(b >>> 16) & 0xff] as number) << 16) |
      ((box[(c >>> 8) & 0xff] as number) << 8) |
      (box[d & 0xff] as number)) ^
    rk
  );
}

/** Encrypts the block in S in place under ENC_KEY. */
function encryptBlock(): void {
  const k = ENC_KEY;
  let s0 = (S[0] as number) ^ (k[0] as number);
  let s1 = (S[1] as number) ^ (k[1] as number);
  let s2 = (S[2] as number) ^ (k[2] as number);
  let s3 = (S[3] as number) ^ (k[3] as number);
  let i = 4;
  for (let r = 1; r < ROUNDS; r++, i += 4) {
    const t0 =
      (T0[s0 >>> 24] as number) ^
      (T1[(s1 >>> 16) & 0xff] as number) ^
      (T2[(s2 >>> 8) & 0xff] as number) ^
      (T3[s3 & 0xff] as number) ^
      (k[i] as number);
    const t1 =
      (T0[s1 >>> 24] as number) ^
      (T1[(s2 >>> 16) & 0xff] as number) ^
      (T2[(s3 >>> 8) & 0xff] as number) ^
      (T3[s0 & 0xff] as number) ^
      (k[i + 1] as number);
    const t2 =
      (T0[s2 >>> 24] as number) ^
      (T1[(s3 >>> 16) & 0xff] as number) ^
      (T2[(s0 >>> 8) & 0xff] as number) ^
      (T3[s1 & 0xff] as number) ^
      (k[i + 2] as number);
    const t3 =
      (T0[s3 >>> 24] as number) ^
      (T1[(s0 >>> 16) & 0xff] as number) ^
      (T2[(s1 >>> 8) & 0xff] as number) ^
      (T3[s2 & 0xff] as number) ^
      (k[i + 3] as number);
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
  }
  S[0] = lastRound(SBOX, s0, s1, s2, s3, k[i] as number);
  S[1] = lastRound(SBOX, s1, s2, s3, s0, k[i + 1] as number);
  S[2] = lastRound(SBOX, s2, s3, s0, s1, k[i + 2] as number);
  S[3] = lastRound(SBOX, s3, s0, s1, s2, k[i + 3] as number);
}

/** Decrypts the block in S in place under DEC_KEY. */
function decryptBlock(): void {
  const k = DEC_KEY;
  let s0 = (S[0] as number) ^ (k[0] as number);
  let s1 = (S[1] as number) ^ (k[1] as number);
  let s2 = (S[2] as number) ^ (k[2] as number);
  let s3 = (S[3] as number) ^ (k[3] as number);
  let i = 4;
  for (let r = 1; r < ROUNDS; r++, i += 4) {
    const t0 =
      (D0[s0 >>> 24] as number) ^
      (D1[(s3 >>> 16) & 0xff] as number) ^
      (D2[(s2 >>> 8) & 0xff] as number) ^
      (D3[s1 & 0xff] as number) ^
      (k[i] as number);
    const t1 =
      (D0[s1 >>> 24] as number) ^
      (D1[(s0 >>> 16) & 0xff] as number) ^
      (D2[(s3 >>> 8) & 0xff] as number) ^
      (D3[s2 & 0xff] as number) ^
      (k[i + 1] as number);
    const t2 =
      (D0[s2 >>> 24] as number) ^
      (D1[(s1 >>> 16) & 0xff] as number) ^
      (D2[(s0 >>> 8) & 0xff] as number) ^
      (D3[s3 & 0xff] as number) ^
      (k[i + 2] as number);
    const t3 =
      (D0[s3 >>> 24] as number) ^
      (D1[(s2 >>> 16) & 0xff] as number) ^
      (D2[(s1 >>> 8) & 0xff] as number) ^
      (D3[s0 & 0xff] as number) ^
      (k[i + 3] as number);
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
  }
  S[0] = lastRound(INV_SBOX, s0, s3, s2, s1, k[i] as number);
  S[1] = lastRound(INV_SBOX, s1, s0, s3, s2, k[i + 1] as number);
  S[2] = lastRound(INV_SBOX, s2, s1, s0, s3, k[i + 2] as number);
  S[3] = lastRound(INV_SBOX, s3, s2, s1, s0, k[i + 3] as number);
}

export function aes256CbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  if (iv.length !== 16) throw new RangeError('AES-CBC: the IV must be 16 bytes');
  const pad = 16 - (plaintext.length % 16);
  const out = new Uint8Array(plaintext.length + pad);
  out.set(plaintext);
  out.fill(pad, plaintext.length);
  expandKey(key);
  let c0 = readWord(iv, 0);
  let c1 = readWord(iv, 4);
  let c2 = readWord(iv, 8);
  let c3 = readWord(iv, 12);
  for (let o = 0; o < out.length; o += 16) {
    S[0] = readWord(out, o) ^ c0;
    S[1] = readWord(out, o + 4) ^ c1;
    S[2] = readWord(out, o + 8) ^ c2;
    S[3] = readWord(out, o + 12) ^ c3;
    encryptBlock();
    c0 = S[0];
    c1 = S[1];
    c2 = S[2];
    c3 = S[3];
    writeWord(out, o, c0);
    writeWord(out, o + 4, c1);
    writeWord(out, o + 8, c2);
    writeWord(out, o + 12, c3);
  }
  ENC_KEY.fill(0);
  S.fill(0);
  return out;
}

export function aes256CbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) return null;
  if (iv.length !== 16) throw new RangeError('AES-CBC: the IV must be 16 bytes');
  expandDecryptionKey(key);
  const out = new Uint8Array(ciphertext.length);
  let p0 = readWord(iv, 0);
  let p1 = readWord(iv, 4);
  let p2 = readWord(iv, 8);
  let p3 = readWord(iv, 12);
  for (let o = 0; o < ciphertext.length; o += 16) {
    const c0 = readWord(ciphertext, o);
    const c1 = readWord(ciphertext, o + 4);
    const c2 = readWord(ciphertext, o + 8);
    const c3 = readWord(ciphertext, o + 12);
    S[0] = c0;
    S[1] = c1;
    S[2] = c2;
    S[3] = c3;
    decryptBlock();
    writeWord(out, o, S[0] ^ p0);
    writeWord(out, o + 4, S[1] ^ p1);
    writeWord(out, o + 8, S[2] ^ p2);
    writeWord(out, o + 12, S[3] ^ p3);
    p0 = c0;
    p1 = c1;
    p2 = c2;
    p3 = c3;
  }
  DEC_KEY.fill(0);
  S.fill(0);
  // PKCS#7: 1..16 bytes, each equal to the count.
  const pad = out[out.length - 1] as number;
  let bad = pad === 0 || pad > 16 ? 1 : 0;
  for (let i = 1; i <= 16 && !bad; i++) if (i <= pad && out[out.length - i] !== pad) bad = 1;
  if (bad) {
    out.fill(0);
    return null;
  }
  const plaintext = out.slice(0, out.length - pad);
  out.fill(0);
  return plaintext;
}

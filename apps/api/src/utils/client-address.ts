/**
 * Which address a request comes from, behind zero or more reverse proxies, and the key under which that address
 * is rate-limited. `X-Forwarded-For` is a list every proxy appends to, so only its right end can be believed: an
 * address is read from it only as far as the hops before it are trusted, counted from the right (`TRUST_PROXY=2`)
 * or recognised by address (`TRUST_PROXY=10.0.0.0/8,127.0.0.1`). Whatever a client writes further left is never
 * used. Addresses come out in one spelling (IPv4-mapped IPv6 as IPv4, IPv6 in RFC 5952 form) and IPv6 clients are
 * limited per /64, the smallest block an ISP hands out. This module parses strings only: it opens no sockets and
 * reads no headers itself.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** How far `X-Forwarded-For` is believed: not at all, a fixed number of hops, or through listed proxies. */
export type TrustProxy =
  { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'proxies'; ranges: readonly string[] };

/**
 * More proxies than this in front of one server is a misconfiguration, not a deployment: a typo such as
 * `TRUST_PROXY=100` would otherwise let clients pick their address again.
 */
export const MAX_TRUSTED_HOPS = 16;

/** Unknown peer (the socket closed before the request was read): every such request shares this one key. */
const UNKNOWN_ADDRESS = 'unknown';

/** Parses `TRUST_PROXY`; throws an `Error` whose message says what is wrong (the config names the variable). */
export function parseTrustProxy(value: string): TrustProxy {
  const text = value.trim().toLowerCase();
  if (['off', 'false', '0', ''].includes(text)) return { kind: 'none' };
  /** `on` predates hop counts: it now means the common case, one reverse proxy in front. */
  if (text === 'on' || text === 'true') return { kind: 'hops', hops: 1 };
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > MAX_TRUSTED_HOPS) throw new Error(`at most ${MAX_TRUSTED_HOPS} hops`);
    return { kind: 'hops', hops };
  }
  const ranges = text
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  for (const range of ranges) parseRange(range);
  return { kind: 'proxies', ranges };
}

/** `a.b.c.d`, `a.b.c.d/n`, `x:y::z` or `x:y::/n` → a normalised network address, its family and prefix length. */
function parseRange(range: string): { address: string; family: 'ipv4' | 'ipv6'; prefix: number } {
  const [raw = '', prefixText, extra] = range.split('/');
  const address = normalizeAddress(raw);
  if (extra !== undefined || address === undefined || raw.includes('[')) {
    throw new Error(`"${range}" is neither off, on, a hop count, nor a list of IP addresses and CIDR ranges`);
  }
  const family = isIPv4(address) ? 'ipv4' : 'ipv6';
  const bits = family === 'ipv4' ? 32 : 128;
  /** An IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) becomes the IPv4 range it stands for. */
  const mappedOffset = family === 'ipv4' && isIPv6(raw) ? 96 : 0;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) throw new Error(`"${range}": bad prefix length`);
  const prefix = prefixText === undefined ? bits : Number(prefixText) - mappedOffset;
  if (prefix < 0 || prefix > bits) throw new Error(`"${range}": prefix length out of range`);
  return { address, family, prefix };
}

/**
 * One spelling of an address, or undefined when `raw` is not one: surrounding spaces, `[…]` brackets and a port
 * (`1.2.3.4:5678`, `[::1]:5678`, as some proxies write them) and an IPv6 zone are dropped; IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`, `::ffff:102:304`) becomes IPv4; IPv6 is written as RFC 5952 says (lower case, `::` for the
 * longest run of zero groups).
 */
export function normalizeAddress(raw: string): string | undefined {
  let text = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) text = bracketed[1] ?? '';
  else if (/^[\d.]+:\d{1,5}$/.test(text)) text = text.slice(0, text.indexOf(':'));
  text = text.replace(/%[\w.-]+$/, '').toLowerCase();
  if (isIPv4(text)) return text;
  if (!isIPv6(text)) return undefined;
  const groups = ipv6Groups(text);
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return formatIpv6(groups);
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail converted). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const [a = 0, b = 0, c = 0, d = 0] = (tail[1] ?? '').split('.').map(Number);
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const zeros = rest === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16));
}

/** RFC 5952 §4: lower-case hex without leading zeros; the first longest run of two or more zero groups is `::`. */
function formatIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/**
 * The key rate limits count a client address under: an IPv4 address itself, an IPv6 address's /64 network (one
 * subscriber gets at least a /64, so counting single IPv6 addresses would give each client 2^64 fresh keys).
 */
export function rateLimitAddressKey(address: string): string {
  const normalized = normalizeAddress(address);
  if (normalized === undefined) return UNKNOWN_ADDRESS;
  if (isIPv4(normalized)) return normalized;
  const groups = ipv6Groups(normalized);
  return `${formatIpv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
}

/** Resolves client addresses under one `TRUST_PROXY` setting. */
export class ClientAddressResolver {
  private readonly proxies: BlockList | undefined;

  constructor(readonly trust: TrustProxy) {
    if (trust.kind === 'proxies') {
      this.proxies = new BlockList();
      for (const range of trust.ranges) {
        const { address, family, prefix } = parseRange(range);
        this.proxies.addSubnet(address, prefix, family);
      }
    }
  }

  /**
   * Whether the address `hop` steps away from this server (0 = the peer of the socket) is a proxy whose
   * `X-Forwarded-For` entry may be believed. Also Express's `trust proxy` function, so `req.protocol` and
   * `req.hostname` follow the same rule.
   */
  trusts(address: string, hop: number): boolean {
    switch (this.trust.kind) {
      case 'none':
        return false;
      case 'hops':
        return hop < this.trust.hops;
      case 'proxies': {
        const normalized = normalizeAddress(address);
        if (normalized === undefined) return false;
        return this.proxies?.check(normalized, isIPv4(normalized) ? 'ipv4' : 'ipv6') ?? false;
      }
    }
  }

  /**
   * The client's address: starting at the socket's peer, step left through `X-Forwarded-For` while the current
   * address is a trusted proxy. An unreadable entry stops the walk at the last address that could be read, so a
   * garbled header never yields a key a client chose.
   */
  resolve(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    let current = normalizeAddress(peer ?? '');
    if (current === undefined) return UNKNOWN_ADDRESS;
    if (this.trust.kind === 'none' || forwardedFor === undefined) return current;
    const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    for (let hop = 0, i = entries.length - 1; i >= 0 && this.trusts(current, hop); hop++, i--) {
      const next = normalizeAddress(entries[i] ?? '');
      if (next === undefined) break;
      current = next;
    }
    return current;
  }
}

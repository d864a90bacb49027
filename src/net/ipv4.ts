/**
 * IPv4 arithmetic the lab plan and route lookups need (nth host of a CIDR, the nth block of a pool, overlap).
 * Parsing and matching come from ipaddr.js; this adds only the integer arithmetic it does not offer.
 */
import ipaddr from 'ipaddr.js';
import { InvalidInputError } from '../errors.ts';

export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

export function ipv4ToInt(ip: string): number {
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip))
    throw new InvalidInputError('ip', `${JSON.stringify(ip)} is not an IPv4 address`);
  const b = ipaddr.IPv4.parse(ip).octets;
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function parseIpv4Cidr(cidr: string): Ipv4Cidr {
  const [ip, len] = cidr.split('/');
  const prefix = Number(len);
  if (ip === undefined || len === undefined || !/^[0-9]{1,2}$/.test(len) || prefix > 32) {
    throw new InvalidInputError('cidr', `${JSON.stringify(cidr)} is not an IPv4 CIDR`);
  }
  return { base: (ipv4ToInt(ip) & maskOf(prefix)) >>> 0, prefix };
}

export function formatIpv4Cidr(c: Ipv4Cidr): string {
  return `${intToIpv4(c.base)}/${c.prefix}`;
}

export function cidrSize(c: Ipv4Cidr): number {
  return 2 ** (32 - c.prefix);
}

/** The address at `offset` inside the CIDR; throws when it falls outside. */
export function nthAddress(c: Ipv4Cidr, offset: number): string {
  if (offset < 0 || offset >= cidrSize(c))
    throw new InvalidInputError('cidr', `offset ${offset} is outside ${formatIpv4Cidr(c)}`);
  return intToIpv4((c.base + offset) >>> 0);
}

/** The `index`-th sub-block of length `blockPrefix` inside the pool (Calico's IPAM blocks). */
export function nthBlock(pool: Ipv4Cidr, blockPrefix: number, index: number): Ipv4Cidr {
  if (blockPrefix < pool.prefix)
    throw new InvalidInputError('blockSize', `/${blockPrefix} is larger than the pool ${formatIpv4Cidr(pool)}`);
  const count = 2 ** (blockPrefix - pool.prefix);
  if (index < 0 || index >= count)
    throw new InvalidInputError(
      'blockSize',
      `pool ${formatIpv4Cidr(pool)} has only ${count} blocks of /${blockPrefix}`,
    );
  return { base: (pool.base + index * 2 ** (32 - blockPrefix)) >>> 0, prefix: blockPrefix };
}

export function cidrContains(c: Ipv4Cidr, ip: string): boolean {
  return (ipv4ToInt(ip) & maskOf(c.prefix)) >>> 0 === c.base;
}

export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return (a.base & maskOf(prefix)) >>> 0 === (b.base & maskOf(prefix)) >>> 0;
}

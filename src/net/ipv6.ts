/**
 * IPv6 arithmetic the lab plan needs for a dual-stack lab (nth address of a CIDR, the nth block of a pool), on
 * BigInt. Parsing and formatting come from ipaddr.js (RFC 5952 text: `fd00:10:244::1`).
 */
import ipaddr from 'ipaddr.js';
import { InvalidInputError } from '../errors.ts';

export interface Ipv6Cidr {
  base: bigint;
  prefix: number;
}

const BITS = 128n;
const ALL_ONES = (1n << BITS) - 1n;

function maskOf(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL_ONES << (BITS - BigInt(prefix))) & ALL_ONES;
}

export function ipv6ToBigInt(ip: string): bigint {
  if (ip.includes('%') || !ipaddr.IPv6.isValid(ip) || !ip.includes(':'))
    throw new InvalidInputError('ip', `${JSON.stringify(ip)} is not an IPv6 address`);
  return ipaddr.IPv6.parse(ip)
    .parts.map(BigInt)
    .reduce((acc, part) => (acc << 16n) | part, 0n);
}

export function bigIntToIpv6(n: bigint): string {
  const parts = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(16 * (7 - i))) & 0xffffn));
  return new ipaddr.IPv6(parts).toRFC5952String();
}

export function parseIpv6Cidr(cidr: string): Ipv6Cidr {
  const [ip, len, extra] = cidr.split('/');
  const prefix = Number(len);
  if (ip === undefined || len === undefined || extra !== undefined || !/^[0-9]{1,3}$/.test(len) || prefix > 128)
    throw new InvalidInputError('cidr', `${JSON.stringify(cidr)} is not an IPv6 CIDR`);
  return { base: ipv6ToBigInt(ip) & maskOf(prefix), prefix };
}

export function formatIpv6Cidr(c: Ipv6Cidr): string {
  return `${bigIntToIpv6(c.base)}/${c.prefix}`;
}

function size(c: Ipv6Cidr): bigint {
  return 1n << (BITS - BigInt(c.prefix));
}

/** The address at `offset` inside the CIDR; throws when it falls outside. */
export function nthIpv6Address(c: Ipv6Cidr, offset: number): string {
  if (offset < 0 || BigInt(offset) >= size(c))
    throw new InvalidInputError('cidr', `offset ${offset} is outside ${formatIpv6Cidr(c)}`);
  return bigIntToIpv6(c.base + BigInt(offset));
}

/** The `index`-th sub-block of length `blockPrefix` inside the pool (Calico's IPAM blocks; /122 by default). */
export function nthIpv6Block(pool: Ipv6Cidr, blockPrefix: number, index: number): Ipv6Cidr {
  if (blockPrefix < pool.prefix)
    throw new InvalidInputError('blockSize', `/${blockPrefix} is larger than the pool ${formatIpv6Cidr(pool)}`);
  const count = 1n << BigInt(blockPrefix - pool.prefix);
  if (index < 0 || BigInt(index) >= count)
    throw new InvalidInputError(
      'blockSize',
      `pool ${formatIpv6Cidr(pool)} has only ${count} blocks of /${blockPrefix}`,
    );
  return { base: pool.base + BigInt(index) * (1n << (BITS - BigInt(blockPrefix))), prefix: blockPrefix };
}

export function ipv6CidrSize(c: Ipv6Cidr): bigint {
  return size(c);
}

export function ipv6CidrsOverlap(a: Ipv6Cidr, b: Ipv6Cidr): boolean {
  const m = maskOf(Math.min(a.prefix, b.prefix));
  return (a.base & m) === (b.base & m);
}

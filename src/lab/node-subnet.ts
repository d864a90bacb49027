/**
 * Picks the lab's node subnet: the first candidate /24 that overlaps no address or route the host already has,
 * nor the lab's pod and service CIDRs, so the lab can never shadow a real network.
 */
import { cidrsOverlap, parseIpv4Cidr } from '../net/ipv4.ts';
import { K8snetError } from '../errors.ts';

/** 10.254.0.0/16, carved into /24s; chosen because it is rarely used and far from Kubernetes' usual CIDRs. */
const CANDIDATE_COUNT = 256;
function candidate(i: number): string {
  return `10.254.${i}.0/24`;
}

export function pickNodeSubnet(hostCidrs: readonly string[], avoid: readonly string[]): string {
  const taken = [...hostCidrs, ...avoid].map(parseIpv4Cidr);
  for (let i = 0; i < CANDIDATE_COUNT; i++) {
    const c = parseIpv4Cidr(candidate(i));
    if (!taken.some((t) => t.prefix > 0 && cidrsOverlap(t, c))) return candidate(i);
  }
  throw new K8snetError('lab', 'no free /24 in 10.254.0.0/16 for the lab; give one with --node-subnet');
}

interface IpJsonRoute {
  dst?: string;
}
interface IpJsonAddr {
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

/** IPv4 CIDRs from `ip -j route show table all` and `ip -j addr` output (skips default and non-IPv4). */
export function hostCidrsFromIpJson(routesJson: string, addrsJson: string): string[] {
  const out: string[] = [];
  for (const r of JSON.parse(routesJson || '[]') as IpJsonRoute[]) {
    if (!r.dst || r.dst === 'default' || r.dst.includes(':')) continue;
    out.push(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
  }
  for (const link of JSON.parse(addrsJson || '[]') as IpJsonAddr[]) {
    for (const a of link.addr_info ?? []) {
      if (a.family === 'inet' && a.local) out.push(`${a.local}/${a.prefixlen ?? 32}`);
    }
  }
  return out.filter((c) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(c));
}

/**
 * Parses `ipset list` (and `ipset save`, the same sets as restore commands) into sets and their members. Pure.
 * kube-proxy's IPVS mode keeps its iptables rules few by matching ipsets: KUBE-CLUSTER-IP (ClusterIP,proto:port,
 * hash:ip,port), KUBE-NODE-PORT-TCP / -UDP (bitmap:port), KUBE-IPVS-IPS (every address on kube-ipvs0, hash:ip) …;
 * IPv6 sets are the same names with `KUBE-6-` (pkg/proxy/ipvs/ipset.go).
 *
 *   Name: KUBE-CLUSTER-IP                      create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 …
 *   Type: hash:ip,port                         add KUBE-CLUSTER-IP 10.96.0.1,tcp:443
 *   Header: family inet hashsize 1024 …
 *   Members:
 *   10.96.0.1,tcp:443
 */
import { canonicalIp } from '../net/host-port.ts';
import { isIP } from 'node:net';

export interface IpSet {
  name: string;
  /** `hash:ip,port`, `bitmap:port` … */
  type: string;
  /** The set's options as printed (`family inet hashsize 1024 maxelem 65536`, `range 0-65535`). */
  header: string;
  /** Each member as printed, without its options (`comment "…"`, `timeout 5`); see ipsetMemberKey for comparing. */
  members: string[];
}

export interface IpSetList {
  sets: Map<string, IpSet>;
  unparsed: { lineNumber: number; line: string }[];
}

/** The one spelling a member is compared in: addresses canonical (fd00:10::1), protocols lower-case. */
export function ipsetMemberKey(member: string): string {
  return member
    .split(',')
    .map((part) => {
      const protoPort = /^(?<proto>[a-zA-Z]+):(?<port>\d+)$/.exec(part);
      if (protoPort?.groups) return `${protoPort.groups.proto!.toLowerCase()}:${Number(protoPort.groups.port)}`;
      return isIP(part) ? canonicalIp(part) : part.toLowerCase();
    })
    .join(',');
}

const PLAIN_FIELD = /^(?<key>Name|Type|Revision|Header|Size in memory|References|Number of entries): ?(?<value>.*)$/;

export function parseIpsetList(text: string): IpSetList {
  const out: IpSetList = { sets: new Map(), unparsed: [] };
  const setNamed = (name: string): IpSet => {
    const set = out.sets.get(name) ?? { name, type: '', header: '', members: [] };
    out.sets.set(name, set);
    return set;
  };
  let current: IpSet | null = null;
  let inMembers = false;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trimEnd();
    if (line.trim() === '') {
      inMembers = false;
      continue;
    }
    const save = /^(?<verb>create|add) (?<name>\S+) (?<rest>.*)$/.exec(line);
    if (save?.groups) {
      const [first = '', ...rest] = save.groups.rest!.split(/\s+/);
      const set = setNamed(save.groups.name!);
      if (save.groups.verb === 'add') set.members.push(first);
      else Object.assign(set, { type: first, header: rest.join(' ') });
      continue;
    }
    const field = PLAIN_FIELD.exec(line);
    if (field?.groups) {
      inMembers = false;
      const value = field.groups.value!.trim();
      if (field.groups.key === 'Name') current = setNamed(value);
      else if (current && field.groups.key === 'Type') current.type = value;
      else if (current && field.groups.key === 'Header') current.header = value;
      continue;
    }
    if (line === 'Members:') {
      inMembers = current !== null;
      continue;
    }
    if (inMembers && current) {
      // A member's options (comment "…", timeout N, packets …) follow it after a space.
      current.members.push(line.trim().split(/\s+/)[0]!);
      continue;
    }
    out.unparsed.push({ lineNumber: i + 1, line: raw });
  }
  return out;
}

/**
 * Parses `ipvsadm -Ln` (IPVS's virtual server table, numeric) into virtual servers and their real servers. Pure.
 * kube-proxy's IPVS mode writes one virtual server per Service address and port (ClusterIP, each node address for a
 * NodePort, external and load-balancer IPs) and one real server per ready endpoint. Lines it cannot read are kept.
 *
 *   IP Virtual Server version 1.2.1 (size=4096)
 *   Prot LocalAddress:Port Scheduler Flags
 *     -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
 *   TCP  10.0.0.1:443 rr persistent 10800
 *     -> 192.168.0.1:6443             Masq    1      1          0
 *   TCP  [fd00:10:96::1]:443 rr
 */
import { canonicalHostPort } from '../net/host-port.ts';

export interface IpvsRealServer {
  /** ip:port in one spelling (`[fd00::5]:8080` for IPv6), as the DNAT targets of the other modes. */
  target: string;
  /** Masq (NAT, what kube-proxy uses), Route (direct routing), Tunnel, Local. */
  forward: string;
  /** 0: IPVS sends no new connection there (kube-proxy's graceful termination of a removed endpoint). */
  weight: number;
  activeConnections: number;
  inactiveConnections: number;
  raw: string;
}

export interface IpvsVirtualServer {
  /** TCP, UDP, SCTP; FWM for a firewall-mark service (no address). */
  protocol: string;
  /** ip:port in the same spelling as real servers; for FWM the mark. */
  address: string;
  ip: string | null;
  port: number | null;
  scheduler: string;
  /** The rest of the line: `persistent 10800`, `ops` … */
  flags: string[];
  realServers: IpvsRealServer[];
  raw: string;
}

export interface IpvsTable {
  virtualServers: IpvsVirtualServer[];
  unparsed: { lineNumber: number; line: string }[];
}

const HEADER = /^(IP Virtual Server version|Prot LocalAddress:Port|\s*-> RemoteAddress:Port)/;
const VIRTUAL = /^(?<protocol>TCP|UDP|SCTP|FWM)\s+(?<address>\S+)\s+(?<scheduler>\S+)(?:\s+(?<flags>.*?))?\s*$/;
const REAL = /^\s+->\s+(?<target>\S+)\s+(?<forward>\S+)\s+(?<weight>\d+)\s+(?<active>\d+)\s+(?<inactive>\d+)\s*$/;

/** `10.0.0.1:443` / `[fd00::1]:443` into address and port; null parts when it is neither. */
function splitAddress(text: string): { ip: string | null; port: number | null } {
  const m = /^(?:\[(?<v6>[^\]]+)\]|(?<v4>\d+\.\d+\.\d+\.\d+)):(?<port>\d+)$/.exec(text);
  if (!m?.groups) return { ip: null, port: null };
  return { ip: m.groups.v6 ?? m.groups.v4!, port: Number(m.groups.port) };
}

export function parseIpvsadm(text: string): IpvsTable {
  const table: IpvsTable = { virtualServers: [], unparsed: [] };
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '' || HEADER.test(line)) return;
    const v = VIRTUAL.exec(line);
    if (v?.groups) {
      const address = v.groups.protocol === 'FWM' ? v.groups.address! : canonicalHostPort(v.groups.address!);
      const { ip, port } = splitAddress(address);
      table.virtualServers.push({
        protocol: v.groups.protocol!,
        address,
        ip,
        port,
        scheduler: v.groups.scheduler!,
        flags: v.groups.flags ? v.groups.flags.split(/\s+/) : [],
        realServers: [],
        raw: line.trimEnd(),
      });
      return;
    }
    const r = REAL.exec(line);
    const current = table.virtualServers.at(-1);
    if (r?.groups && current) {
      current.realServers.push({
        target: canonicalHostPort(r.groups.target!),
        forward: r.groups.forward!,
        weight: Number(r.groups.weight),
        activeConnections: Number(r.groups.active),
        inactiveConnections: Number(r.groups.inactive),
        raw: line.trim(),
      });
      return;
    }
    table.unparsed.push({ lineNumber: i + 1, line });
  });
  return table;
}

/** The addresses (without prefix length) of `ip addr show dev kube-ipvs0` as people read it: its `inet` / `inet6` lines. */
export function addressesInIpAddrText(text: string): string[] {
  return [...text.matchAll(/^\s+inet6?\s+(?<addr>[0-9a-fA-F:.]+)\/\d+/gm)].map((m) =>
    canonicalHostPort(m.groups!.addr!),
  );
}

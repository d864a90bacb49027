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
 *
 * The kernel's own `/proc/net/ip_vs` (read where ipvsadm is not installed) is the same table with addresses and ports
 * in hex (net/netfilter/ipvs/ip_vs_ctl.c, ip_vs_info_seq_show): `TCP  0A600001:01BB rr`, `  -> [fd00:0010:…]:1F90`,
 * `FWM  00000101 rr`; its header has no padding after `RemoteAddress:Port`, which is how the two are told apart.
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
  /** `ipvsadm`: as ipvsadm -L -n prints it; `kernel`: /proc/net/ip_vs, hex addresses decoded here. */
  format: 'ipvsadm' | 'kernel';
  virtualServers: IpvsVirtualServer[];
  unparsed: { lineNumber: number; line: string }[];
}

const HEADER = /^(IP Virtual Server version|Prot LocalAddress:Port|\s*-> RemoteAddress:Port)/;
/** The kernel writes `  -> RemoteAddress:Port Forward`; ipvsadm pads the column (`RemoteAddress:Port           Forward`). */
const KERNEL_HEADER = /^\s*-> RemoteAddress:Port Forward /m;
const KERNEL_V4 = /^(?<ip>[0-9A-Fa-f]{8}):(?<port>[0-9A-Fa-f]{4})$/;
const KERNEL_V6 = /^\[(?<ip>[0-9A-Fa-f:]+)\]:(?<port>[0-9A-Fa-f]{4})$/;

/** `0A600001:01BB` → `10.96.0.1:443`; `[fd00:0010:…:0001]:01BB` → `[fd00:10::1]:443`; anything else as it is. */
function decodeKernelAddress(text: string): string {
  const v4 = KERNEL_V4.exec(text);
  if (v4?.groups) {
    const n = Number.parseInt(v4.groups.ip!, 16);
    const ip = [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join('.');
    return `${ip}:${Number.parseInt(v4.groups.port!, 16)}`;
  }
  const v6 = KERNEL_V6.exec(text);
  if (v6?.groups) return canonicalHostPort(`[${v6.groups.ip}]:${Number.parseInt(v6.groups.port!, 16)}`);
  return text;
}
const VIRTUAL = /^(?<protocol>TCP|UDP|SCTP|FWM)\s+(?<address>\S+)\s+(?<scheduler>\S+)(?:\s+(?<flags>.*?))?\s*$/;
const REAL = /^\s+->\s+(?<target>\S+)\s+(?<forward>\S+)\s+(?<weight>\d+)\s+(?<active>\d+)\s+(?<inactive>\d+)\s*$/;

/** `10.0.0.1:443` / `[fd00::1]:443` into address and port; null parts when it is neither. */
function splitAddress(text: string): { ip: string | null; port: number | null } {
  const m = /^(?:\[(?<v6>[^\]]+)\]|(?<v4>\d+\.\d+\.\d+\.\d+)):(?<port>\d+)$/.exec(text);
  if (!m?.groups) return { ip: null, port: null };
  return { ip: m.groups.v6 ?? m.groups.v4!, port: Number(m.groups.port) };
}

export function parseIpvsadm(text: string): IpvsTable {
  const format = KERNEL_HEADER.test(text) ? 'kernel' : 'ipvsadm';
  const address = (raw: string) => canonicalHostPort(format === 'kernel' ? decodeKernelAddress(raw) : raw);
  const table: IpvsTable = { format, virtualServers: [], unparsed: [] };
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '' || HEADER.test(line)) return;
    const v = VIRTUAL.exec(line);
    if (v?.groups) {
      const fwm = v.groups.protocol === 'FWM';
      // The kernel prints a firewall mark in hex, ipvsadm in decimal.
      const mark = fwm && format === 'kernel' ? String(Number.parseInt(v.groups.address!, 16)) : v.groups.address!;
      const vsAddress = fwm ? mark : address(v.groups.address!);
      const { ip, port } = splitAddress(vsAddress);
      const flags = v.groups.flags ? v.groups.flags.split(/\s+/) : [];
      table.virtualServers.push({
        protocol: v.groups.protocol!,
        address: vsAddress,
        ip,
        port,
        scheduler: v.groups.scheduler!,
        flags,
        realServers: [],
        // Evidence reads as ipvsadm would print it, whichever of the two was read.
        raw:
          format === 'kernel'
            ? `${v.groups.protocol}  ${vsAddress} ${[v.groups.scheduler, ...flags].join(' ')}`
            : line.trimEnd(),
      });
      return;
    }
    const r = REAL.exec(line);
    const current = table.virtualServers.at(-1);
    if (r?.groups && current) {
      const target = address(r.groups.target!);
      const counts = `${r.groups.weight} ${r.groups.active} ${r.groups.inactive}`;
      current.realServers.push({
        target,
        forward: r.groups.forward!,
        weight: Number(r.groups.weight),
        activeConnections: Number(r.groups.active),
        inactiveConnections: Number(r.groups.inactive),
        raw: format === 'kernel' ? `-> ${target} ${r.groups.forward} ${counts}` : line.trim(),
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

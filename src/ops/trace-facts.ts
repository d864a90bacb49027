/**
 * What `trace` gathers before it judges: plain data, filled from the cluster and the nodes by trace.ts and read
 * by the pure diagnosis in trace-diagnosis.ts (so every finding is unit-testable from hand-written facts).
 */
import type { IpPoolInfo, PodInfo } from '../cluster/types.ts';

export type { OverlayMode } from '../calico/encapsulation.ts';
import type { OverlayMode } from '../calico/encapsulation.ts';
import type { FdbEntry, LinkFacts, NeighbourEntry, RouteLine } from '../parse/ip-json.ts';
import type { Listener } from '../parse/listeners.ts';
import type { RouteRule } from '../parse/ip-rule.ts';
import type { InterfaceManagerReading } from './interface-manager-findings.ts';

export type { LinkFacts, RouteLine } from '../parse/ip-json.ts';

export interface NodeFacts {
  name: string;
  ip: string;
  /** Every table's routes (RouteLine.table for any but main); null when the node could not be inspected; `error` says why. */
  routes: RouteLine[] | null;
  /** `ip rule` (policy routing); null when not read: lookups then use the main table only. */
  rules?: RouteRule[] | null;
  links: LinkFacts[] | null;
  /** The interface holding the node's address (ip -j addr): eth0, ens5, bond0 …; null when not found. */
  uplink: string | null;
  /** The uplink's addresses of the family inspected (VXLAN's outer addresses; IPv6 ones for vxlan-v6.calico). */
  underlayIPs?: string[];
  /** The full route table as printed, for the report. */
  routeTableText: string | null;
  ipForward: boolean | null;
  /** Neighbour (ARP) entries, `ip -j neigh`; Felix pins one per remote VXLAN tunnel address. */
  neighbours: NeighbourEntry[] | null;
  /** VXLAN forwarding entries (`bridge fdb show dev vxlan.calico`): remote VTEP MAC → node IP. */
  fdb: FdbEntry[] | null;
  /** net.ipv4.conf.{all,<uplink>,<tunnel>}.rp_filter by interface name (1 = strict; the kernel uses the larger of all and the interface). */
  rpFilter: Record<string, number>;
  /** net.netfilter.nf_conntrack_count / _max (null: not read, e.g. the module is not loaded). */
  conntrack: { count: number; max: number } | null;
  /** `ethtool -k vxlan.calico`: tx-checksum-ip-generic and its line (null: not read or no VXLAN device). */
  tunnelOffload: { device: string; txChecksumIpGeneric: boolean; line: string } | null;
  /** NetworkManager's and systemd-networkd's device lists, from the tools present on the node (absent or null: none read). */
  interfaceManagers?: InterfaceManagerReading[] | null;
  error: string | null;
}

export interface PodEnd {
  pod: PodInfo;
  caliInterface: string;
  /** The node the pod runs on; null for an unscheduled pod. */
  node: NodeFacts | null;
  /** TCP listeners inside the pod's netns, with bind address and process (null: not checked). */
  listeners: Listener[] | null;
  netns: string | null;
  /** When no namespace was found: what the discovery tried, in plain words. */
  netnsSteps?: string[];
  /** The pod's own side of its path: eth0, its address, the default route, the gateway's neighbour entry (null: not read). */
  inside?: PodInside | null;
}

/** Read inside the pod's network namespace (after the test connection, so the gateway's ARP entry had its chance). */
export interface PodInside {
  links: LinkFacts[];
  addresses: Record<string, string[]>;
  routes: RouteLine[];
  /** `ip -4 route` (or `ip -6 route`, see family) as printed (evidence). */
  routeText: string;
  neighbours: NeighbourEntry[];
  /** The family the routes and neighbours were read in (absent: 4); addresses hold both with 6. */
  family?: 4 | 6;
  error: string | null;
}

/** One flow as a capture point saw it (inner addresses; the tunnel's outer ones when it was encapsulated). */
export interface ObservedFlow {
  src: string;
  dst: string;
  proto: string;
  sport: number | null;
  dport: number | null;
  packets: number;
  /** Packets sent by `src` (the initiator) and by `dst`. */
  packetsFromSrc?: number;
  packetsFromDst?: number;
  tunnel: { type: 'vxlan' | 'ipip'; outerSrc: string; outerDst: string; vni: number | null } | null;
  tcpFlags: string[];
  handshake: string;
  resets: number;
}

/** The capture points of a trace in the order the request's packets pass them (the reply's is the reverse). */
export const HOP_ORDER = ['src-pod', 'src-tunnel', 'src-uplink', 'dst-uplink', 'dst-tunnel', 'dst-pod'] as const;
export type HopRole = (typeof HOP_ORDER)[number];

export interface CapturePointFacts {
  node: string;
  interface: string;
  /** What this point stands for on the path. */
  role: HopRole;
  packets: number;
  /** UDP datagrams whose checksum did not match (outer VXLAN UDP included); 0 when none could be checked. */
  badUdpChecksums?: number;
  flows: ObservedFlow[];
  error: string | null;
}

export interface TraceFacts {
  src: PodEnd;
  dst: PodEnd;
  pool: IpPoolInfo | null;
  overlay: { mode: OverlayMode; device: string | null };
  /** Port the test connection used (dst's first declared TCP port), null when none was made. */
  testPort: number | null;
  capture: { seconds: number; points: CapturePointFacts[] } | null;
}

/**
 * BGP findings for Calico clusters routed by BIRD (no encapsulation, or CrossSubnet), per family (BIRD for IPv4,
 * BIRD6 for IPv6): sessions not Established (with BIRD's state and last error, and the peer's blocks that lost
 * their route here), a daemon not running (its control socket refuses connections), the address calico/node
 * autodetected (projectcalico.org/IPv4Address, IPv6Address) differing from the node's InternalIP, and host rules
 * dropping tcp/179. Pure: `report` and `routes` feed it what they read; trace can call `bgpPeerFinding` for one pair.
 */
import { isIP } from 'node:net';
import { nestConsequences, type Finding, type Severity } from '../model/report.ts';
import type { BirdProtocols } from '../parse/bird.ts';
import { bgpSessions } from '../parse/bird.ts';
import type { HostKiller } from '../calico/felix-chains.ts';
import type { RouteLine } from './trace-facts.ts';
import type { CalicoNodeInfo, IpPoolInfo, NodeInfo } from '../cluster/types.ts';
import { enabledPools, nodeInternalIP } from '../cluster/families.ts';
import { canonicalIp } from '../net/host-port.ts';

export interface BgpNodeFacts {
  name: string;
  /** The family these facts are of: BIRD's IPv4 sessions (the default), or BIRD6's IPv6 ones (bird6.ctl). */
  family?: 4 | 6;
  /** InternalIP of the family. */
  ip: string;
  /** projectcalico.org/IPv4Address (IPv6Address for IPv6): the address calico/node autodetected (null: not annotated). */
  calicoAddress: string | null;
  /** The Calico Node resource's spec.bgp.ipv4Address (ipv6Address), where Calico's API server serves it. */
  calicoNodeAddress?: string | null;
  /** BIRD's (BIRD6's) `show protocols all` (null: not read, see birdError). */
  bird: BirdProtocols | null;
  birdError: string | null;
  /** Each way of reading BIRD that was tried and failed (bird-read.ts), when none worked; absent when not tried. */
  birdUnreadable?: string[];
  /** The family's routes (`ip route` / `ip -6 route`). */
  routes: RouteLine[] | null;
  /** Host rules dropping BGP (felix-chains.ts hostKillers, kind input-drops-bgp), with counters. */
  bgpDrops: HostKiller[];
  blocks: string[];
}

/** How each family's BGP is named: its daemon, the annotation and Calico Node field of its address, the env var. */
const FAMILY_TERMS = {
  4: {
    daemon: 'BIRD',
    annotation: 'projectcalico.org/IPv4Address',
    calicoNodeField: 'Calico Node spec.bgp.ipv4Address',
    autodetect: 'IP_AUTODETECTION_METHOD',
  },
  6: {
    daemon: 'BIRD6',
    annotation: 'projectcalico.org/IPv6Address',
    calicoNodeField: 'Calico Node spec.bgp.ipv6Address',
    autodetect: 'IP6_AUTODETECTION_METHOD',
  },
} as const;

const bare = (address: string): string => canonicalIp(address.split('/')[0]!);

/** A node's addresses as `family`'s BGP knows them: its InternalIP, the one calico/node autodetected, the Calico Node's. */
export function bgpAddressesOf(
  node: NodeInfo,
  calicoNode: CalicoNodeInfo | undefined,
  family: 4 | 6,
): Pick<BgpNodeFacts, 'family' | 'ip' | 'calicoAddress' | 'calicoNodeAddress'> {
  const v6 = family === 6;
  return {
    family,
    ip: (v6 ? nodeInternalIP(node, 6) : (nodeInternalIP(node, 4) ?? node.internalIP)) ?? '?',
    calicoAddress: (v6 ? node.calicoIPv6Address : node.calicoIPv4Address) ?? null,
    calicoNodeAddress: (v6 ? calicoNode?.bgpIPv6Address : calicoNode?.bgpIPv4Address) ?? null,
  };
}

/** Pod traffic crosses nodes on BIRD's routes when an enabled pool does not encapsulate (always or across subnets). */
export function routedByBgp(pools: readonly IpPoolInfo[], family?: 4 | 6): boolean {
  return (family === undefined ? pools : enabledPools(pools, family)).some(
    (p) => !p.disabled && p.vxlanMode !== 'Always' && p.ipipMode !== 'Always',
  );
}

const error = (code: string, message: string, evidence: string): Finding => ({
  severity: 'error',
  code,
  message,
  evidence,
});

function routeFor(routes: readonly RouteLine[], block: string): RouteLine | undefined {
  return routes.find((r) => r.destination === block && r.type === 'unicast');
}

/**
 * The one pair trace needs: is the BGP session from `node` to `peer` (by the peer's address) Established on `node`?
 * A finding when it is not (or is missing from BIRD's protocols), null when it is or BIRD was not read.
 */
export function bgpPeerFinding(
  node: Pick<BgpNodeFacts, 'name' | 'bird' | 'routes' | 'family'>,
  peer: Pick<BgpNodeFacts, 'name' | 'ip' | 'calicoAddress' | 'calicoNodeAddress' | 'blocks'>,
): Finding | null {
  if (node.bird === null) return null;
  const sessions = bgpSessions(node.bird);
  if (sessions.length === 0) return null;
  const peerAddress = (peer.calicoAddress ?? peer.calicoNodeAddress)?.split('/')[0] ?? peer.ip;
  const known = new Set([peerAddress, peer.ip, peer.calicoNodeAddress ?? peer.ip].map(bare));
  const session = sessions.find((s) => s.neighborAddress !== null && known.has(bare(s.neighborAddress)));
  if (!session)
    return error(
      'bgp_peer_missing',
      `${node.name}'s ${FAMILY_TERMS[node.family ?? 4].daemon} has no BGP session with ${peer.name} (${peerAddress})`,
      `BGP protocols: ${sessions.map((s) => `${s.name} ${s.neighborAddress ?? '?'}`).join(', ')}`,
    );
  if (session.session === 'Established') return null;
  const lost = node.routes === null ? [] : peer.blocks.filter((b) => !routeFor(node.routes!, b));
  const why = session.lastError ? `: ${session.lastError}` : '';
  const vanished =
    lost.length > 0 ? `; no route here to its block${lost.length > 1 ? 's' : ''} ${lost.join(', ')}` : '';
  return error(
    'bgp_peer_down',
    `BGP peer ${peer.name} (${session.neighborAddress ?? peerAddress}) is ${session.session} on ${node.name}${why}${vanished}`,
    `${session.name} BGP ${session.table} ${session.state} ${session.since} ${session.info}`.trim(),
  );
}

export function diagnoseBgp(nodes: readonly BgpNodeFacts[]): Finding[] {
  const out: Finding[] = [];
  const familyOf = (n: BgpNodeFacts) => n.family ?? 4;
  // Each node's sessions with the others of its family (BIRD's peers are their IPv4 facts, BIRD6's the IPv6 ones).
  const sessionFindings = new Map(
    nodes.map((node) => [
      node,
      node.birdError !== null
        ? []
        : nodes
            .filter((p) => p.name !== node.name && familyOf(p) === familyOf(node))
            .flatMap((peer) => bgpPeerFinding(node, peer) ?? []),
    ]),
  );
  /** Another node's session to `node` refused at the TCP level: nothing listens on tcp/179 there. */
  const refusedBy = (node: BgpNodeFacts): Finding | undefined =>
    [...sessionFindings]
      .filter(([other]) => familyOf(other) === familyOf(node))
      .flatMap(([, found]) => found)
      .find(
        (f) =>
          f.code === 'bgp_peer_down' && sessionEnds(f).peer === node.name && f.message.includes('Connection refused'),
      );
  for (const node of nodes) {
    const terms = FAMILY_TERMS[node.family ?? 4];
    // Where Calico keeps the address BIRD peers from: the Node annotation (Kubernetes datastore) and the Calico Node.
    const wrong = [
      { where: terms.annotation, address: node.calicoAddress },
      { where: terms.calicoNodeField, address: node.calicoNodeAddress ?? null },
    ].filter((a) => a.address && bare(a.address) !== bare(node.ip));
    if (wrong.length > 0) {
      out.push(
        error(
          'calico_address_mismatch',
          `Calico autodetected ${wrong[0]!.address} for ${node.name}, not its InternalIP ${node.ip}: ${terms.daemon} peers from the wrong interface (set ${terms.autodetect}, e.g. kubernetes-internal-ip)`,
          `${wrong.map((a) => `${a.where}=${a.address}`).join('; ')}; status.addresses InternalIP=${node.ip}`,
        ),
      );
    }
    for (const d of node.bgpDrops) {
      const hits = d.counters ? ` (${d.counters.packets} packets dropped)` : '';
      out.push(
        error(
          'bgp_blocked',
          `${d.description} on ${node.name}: BGP (tcp/179) from other nodes cannot reach ${terms.daemon}${hits}`,
          d.rule?.raw ?? d.description,
        ),
      );
    }
    const refused = (node.birdUnreadable ?? []).map((f) => SOCKET_REFUSED.exec(f)).find((m) => m !== null);
    if (refused)
      // The socket is there and nobody listens: the daemon was running and is gone (crashed, killed, or calico/node's
      // runit gave up on it), which calico-node's readiness reports as "BIRD is not ready".
      out.push(
        error(
          'bird_not_running',
          `${terms.daemon} is not running on ${node.name}: nothing answers on its control socket ${refused.groups!.socket} (connection refused), so ${node.name} has no ${node.family === 6 ? 'IPv6 ' : ''}BGP sessions and announces no blocks (calico-node: "${terms.daemon} is not ready")`,
          refused[0],
        ),
      );
    else if (node.birdUnreadable && node.birdUnreadable.length > 0) {
      const missing = node.birdUnreadable.map((f) => SOCKET_MISSING.exec(f)).find((m) => m !== null);
      // No socket at all: the daemon is not running (never started: calico-node crash-looping; or shut down), or
      // calico/node runs without BGP (calico_backend: vxlan routes a CrossSubnet pool without BIRD). The others'
      // sessions to the node refused at the TCP level tell the first apart: then it is an error.
      const refusal = missing ? refusedBy(node) : undefined;
      if (missing && refusal)
        out.push(
          error(
            'bird_not_running',
            `${terms.daemon} is not running on ${node.name}: it has no control socket ${missing.groups!.socket}, and ${sessionEnds(refusal).node}'s session to it is refused, so ${node.name} has no ${node.family === 6 ? 'IPv6 ' : ''}BGP sessions and announces no blocks (calico-node: "${terms.daemon} is not ready")`,
            missing[0],
          ),
        );
      else {
        const why = missing
          ? `there is no control socket ${missing.groups!.socket}: ${terms.daemon} is not running there, or calico/node runs without BGP`
          : 'no birdcl or birdc on the host, nor in a running calico-node container';
        out.push({
          severity: 'warning',
          code: 'bird_unreadable',
          message: `${terms.daemon}'s BGP sessions on ${node.name} could not be read (${why}): its peers were not checked`,
          evidence: node.birdUnreadable.join('; '),
        });
      }
    }
    out.push(...sessionFindings.get(node)!);
  }
  return out;
}

const PEER_CODES = new Set(['bgp_peer_down', 'bgp_peer_missing']);
/** The route findings trace makes when the destination's block has no route through its node. */
const ROUTE_CODES = new Set(['no_route_to_dst', 'no_route_to_block', 'unexpected_next_hop']);
const SEVERITY_RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
/** The BIRD client's answer when the control socket exists but no daemon listens on it (birdcl and birdc alike). */
const SOCKET_REFUSED = /Unable to connect to server control socket \((?<socket>[^)]+)\): Connection refused/;
/** …and when there is no socket at all (BIRD removes it when it shuts down cleanly, or never started). */
const SOCKET_MISSING = /Unable to connect to server control socket \((?<socket>[^)]+)\): No such file or directory/;
/** report's `route to <block> (<peer>) missing on <node>` (health-diagnosis.ts). */
const BLOCK_ROUTE_MISSING = /^route to (?<block>\S+) \((?<peer>[^)\s]+)\) missing on (?<node>\S+)$/;

/** The node a session finding is about (`on X`, `X's BIRD`) and the peer it names (`BGP peer Y (`, `with Y (`). */
function sessionEnds(f: Finding): { node: string | null; peer: string | null } {
  const node = / is \S+ on (?<n>[^:;\s]+)/.exec(f.message)?.groups?.n ?? /^(?<n>\S+)'s BIRD/.exec(f.message)?.groups?.n;
  const peer =
    /^BGP peer (?<p>\S+) \(/.exec(f.message)?.groups?.p ?? / session with (?<p>\S+) \(/.exec(f.message)?.groups?.p;
  return { node: node ?? null, peer: peer ?? null };
}
const involves = (f: Finding, name: string): boolean => {
  const ends = sessionEnds(f);
  return ends.node === name || ends.peer === name;
};
/** The node a cause is about: `for X,` (address mismatch), `on X:` (tcp/179 drops). */
function causeNode(f: Finding): string | null {
  if (f.code === 'bird_not_running') return / is not running on (?<n>[^:\s]+):/.exec(f.message)?.groups?.n ?? null;
  if (f.code === 'calico_address_mismatch')
    return / for (?<n>[^,\s]+), not its InternalIP/.exec(f.message)?.groups?.n ?? null;
  if (f.code === 'bgp_blocked') return / on (?<n>[^:\s]+): BGP \(tcp\/179\)/.exec(f.message)?.groups?.n ?? null;
  return null;
}

/**
 * What a daemon not running on `node` explains, in its family: the sessions the others have with the node down,
 * and the routes to other nodes' blocks missing on the node (report).
 */
function downBecauseNotRunning(cause: Finding, node: string, f: Finding): boolean {
  const family = cause.message.startsWith('BIRD6 ') ? 6 : 4;
  if (PEER_CODES.has(f.code)) {
    const address = /^BGP peer \S+ \((?<a>[^)]+)\)/.exec(f.message)?.groups?.a;
    return sessionEnds(f).peer === node && address !== undefined && isIP(address) === family;
  }
  const missing = f.code === 'route_to_block_missing' ? BLOCK_ROUTE_MISSING.exec(f.message)?.groups : undefined;
  return missing?.node === node && (missing.block!.includes(':') ? 6 : 4) === family;
}

/** The address a calico_address_mismatch says Calico autodetected, without its prefix length. */
const annotatedAddress = (f: Finding) => /^Calico autodetected (?<a>[^/\s]+)/.exec(f.message)?.groups?.a ?? null;

/** A cause is as severe as the worst of what follows from it (first-found is a problem once it broke a session). */
function atLeastChildren(f: Finding): Finding {
  const worst = (f.children ?? []).reduce<Severity>(
    (s, c) => (SEVERITY_RANK[c.severity] < SEVERITY_RANK[s] ? c.severity : s),
    f.severity,
  );
  return worst === f.severity ? f : { ...f, severity: worst };
}

/**
 * One cause, one problem, for BGP and Calico's address configuration: a missing route to the destination's block
 * (trace: `dstNode`), or to a peer's block (report), under the session to that node that is down; a session down
 * under what broke it — tcp/179 dropped on either end (with the drop counters that rule grew), or the node peering
 * from a wrong autodetected address; and a wrong address under first-found autodetection, the setting that picked
 * it. Level by level, so each cause keeps what it already explains.
 */
export function nestBgpFindings(findings: readonly Finding[], options: { dstNode?: string } = {}): Finding[] {
  const dst = options.dstNode;
  let out = nestConsequences(findings, (cause, f) => {
    if (!PEER_CODES.has(cause.code)) return false;
    if (dst !== undefined && sessionEnds(cause).peer === dst && ROUTE_CODES.has(f.code)) return true;
    // report: the route to a peer's block missing on a node, under that node's session with the peer.
    const missing = f.code === 'route_to_block_missing' ? BLOCK_ROUTE_MISSING.exec(f.message)?.groups : undefined;
    const ends = sessionEnds(cause);
    return missing !== undefined && ends.node === missing.node && ends.peer === missing.peer;
  });
  out = nestConsequences(out, (cause, f) => {
    const node = causeNode(cause);
    if (node === null) return false;
    if (cause.code === 'bird_not_running') return downBecauseNotRunning(cause, node, f);
    if (PEER_CODES.has(f.code) && cause.code === 'bgp_blocked') return involves(f, node);
    // A wrong address breaks the sessions the others open to it (Calico names them by it), not sessions at large.
    if (PEER_CODES.has(f.code))
      return sessionEnds(f).peer === node && f.message.includes(`(${annotatedAddress(cause)})`);
    // The BGP packets the blocking rule counted during the test are the same cause, not another drop.
    return cause.code === 'bgp_blocked' && f.code === 'drop_rule_counted' && f.evidence.endsWith(` ${cause.evidence}`);
  });
  out = nestConsequences(
    out,
    (cause, f) =>
      cause.code === 'calico_autodetect_first_found' &&
      f.code === 'calico_address_mismatch' &&
      causeNode(f) !== null &&
      cause.evidence.split('; ').some((e) => e.startsWith(`${causeNode(f)}: `)),
  );
  return out.map((f) => (f.code === 'calico_autodetect_first_found' ? atLeastChildren(f) : f));
}

/**
 * BGP findings for Calico clusters routed by BIRD (no encapsulation, or CrossSubnet): sessions not Established (with
 * BIRD's state and last error, and the peer's blocks that lost their route here), the address calico/node
 * autodetected (projectcalico.org/IPv4Address) differing from the node's InternalIP, and host rules dropping
 * tcp/179. Pure: `report` and `routes` feed it what they read; trace can call `bgpPeerFinding` for one pair.
 */
import type { Finding } from '../model/report.ts';
import type { BirdProtocols } from '../parse/bird.ts';
import { bgpSessions } from '../parse/bird.ts';
import type { HostKiller } from '../calico/felix-chains.ts';
import type { RouteLine } from './trace-facts.ts';

export interface BgpNodeFacts {
  name: string;
  /** InternalIP. */
  ip: string;
  /** projectcalico.org/IPv4Address, `a.b.c.d/len` (null: not annotated). */
  calicoIPv4Address: string | null;
  /** BIRD's `show protocols all` (null: not read, see birdError). */
  bird: BirdProtocols | null;
  birdError: string | null;
  routes: RouteLine[] | null;
  /** Host rules dropping BGP (felix-chains.ts hostKillers, kind input-drops-bgp), with counters. */
  bgpDrops: HostKiller[];
  blocks: string[];
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
  node: Pick<BgpNodeFacts, 'name' | 'bird' | 'routes'>,
  peer: Pick<BgpNodeFacts, 'name' | 'ip' | 'calicoIPv4Address' | 'blocks'>,
): Finding | null {
  if (node.bird === null) return null;
  const sessions = bgpSessions(node.bird);
  if (sessions.length === 0) return null;
  const peerAddress = peer.calicoIPv4Address?.split('/')[0] ?? peer.ip;
  const session = sessions.find((s) => s.neighborAddress === peerAddress || s.neighborAddress === peer.ip);
  if (!session)
    return error(
      'bgp_peer_missing',
      `${node.name}'s BIRD has no BGP session with ${peer.name} (${peerAddress})`,
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
  for (const node of nodes) {
    const annotated = node.calicoIPv4Address?.split('/')[0] ?? null;
    if (annotated !== null && annotated !== node.ip) {
      out.push(
        error(
          'calico_address_mismatch',
          `Calico autodetected ${node.calicoIPv4Address} for ${node.name}, not its InternalIP ${node.ip}: BIRD peers from the wrong interface (set IP_AUTODETECTION_METHOD, e.g. kubernetes-internal-ip)`,
          `projectcalico.org/IPv4Address=${node.calicoIPv4Address}; status.addresses InternalIP=${node.ip}`,
        ),
      );
    }
    for (const d of node.bgpDrops) {
      const hits = d.counters ? ` (${d.counters.packets} packets dropped)` : '';
      out.push(
        error(
          'bgp_blocked',
          `${d.description} on ${node.name}: BGP (tcp/179) from other nodes cannot reach BIRD${hits}`,
          d.rule?.raw ?? d.description,
        ),
      );
    }
    if (node.birdError !== null) continue;
    for (const peer of nodes.filter((p) => p.name !== node.name)) {
      const f = bgpPeerFinding(node, peer);
      if (f) out.push(f);
    }
  }
  return out;
}

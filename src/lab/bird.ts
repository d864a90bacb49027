/**
 * The lab's BGP (topology `routing: bgp`): a real BIRD 2 per node, in the node's namespace, peering with every other
 * node over the lab switch (node-to-node mesh, one AS, as calico/node's confd configures it) and exporting the
 * node's block, so other nodes' kernels get `<block> via <node IP> dev eth0 proto bird`; on a dual-stack lab a
 * second one for IPv6 beside it (calico/node's bird6). The control sockets live in the node's state dir, in a
 * directory each node's sshd sees as /var/run/calico (sshd.ts), where calico/node has them. The config is pure
 * text, so tests pin it.
 */
import { join } from 'node:path';
import type { LabPlan, PlannedNode } from './plan.ts';
import type { LabPaths } from './state.ts';
import { inNetns } from './host-tools.ts';

export const BIRD_BINARY = 'bird';
/** The sockets' names inside the node's calico run dir, as calico/node names them (/var/run/calico/bird.ctl, and
 * bird6.ctl for the IPv6 daemon calico/node runs beside it). */
export const BIRD_SOCKET_NAME = 'bird.ctl';
export const BIRD6_SOCKET_NAME = 'bird6.ctl';
/**
 * BGP timers for a lab that must converge in seconds, not BIRD's defaults (connect retry 120 s, error wait 60–300 s):
 * a peer that comes up later, or back after being stopped, is reached within these.
 */
const LAB_BGP_TIMERS = [
  'connect delay time 1;',
  'connect retry time 2;',
  'error wait time 1, 4;',
  'hold time 9;',
  'keepalive time 3;',
];

/** The directory a node's sshd shows as /var/run/calico (holds bird.ctl). */
export function calicoRunDir(paths: LabPaths, node: string): string {
  return join(paths.node(node), 'calico-run');
}

export function birdConfigPath(paths: LabPaths, node: string, family: 4 | 6 = 4): string {
  return join(paths.node(node), family === 6 ? 'bird6.conf' : 'bird.conf');
}

/** Calico's protocol name for a mesh peer (confd's templates: Mesh_ and the address with _ for each . or :). */
export function meshProtocolName(ip: string): string {
  return `Mesh_${ip.replaceAll('.', '_').replaceAll(':', '_')}`;
}

/**
 * A node's BIRD configuration for one family. IPv4: peers at the nodes' IPv4 addresses, the node's block announced.
 * IPv6 (a dual-stack lab): the second daemon calico/node runs (bird6), peering at the nodes' IPv6 addresses and
 * announcing the node's IPv6 block; its router id is still the IPv4 address, as confd's bird6 template writes it.
 */
export function birdConfig(plan: LabPlan, node: PlannedNode, logFile: string, family: 4 | 6 = 4): string {
  const as = plan.asNumber ?? 64512;
  const v6 = family === 6;
  const channel = v6 ? 'ipv6' : 'ipv4';
  const address = (n: PlannedNode) => (v6 ? n.ipv6! : n.ip);
  const peers = plan.nodes.filter((n) => n.name !== node.name && (!v6 || n.ipv6));
  return [
    `# k8snet lab ${plan.lab}: BIRD 2 on ${node.name}${v6 ? ' for IPv6 (bird6)' : ''}, node-to-node mesh as calico/node's confd writes it`,
    `log "${logFile}" all;`,
    `router id ${node.ip};`,
    '',
    'protocol device { scan time 10; }',
    '',
    "# Routes learned from the mesh go to the kernel (proto bird); this node's own blackhole is Felix's (proto 80).",
    'protocol kernel {',
    `  ${channel} { import none; export where source = RTS_BGP; };`,
    '  scan time 10;',
    '}',
    '',
    "# The node's IPAM block, announced to every peer (calico/node exports its blocks the same way).",
    'protocol static calico_blocks {',
    `  ${channel};`,
    `  route ${v6 ? node.blockV6! : node.block} blackhole;`,
    '}',
    '',
    'template bgp bgp_template {',
    `  local ${address(node)} as ${as};`,
    '  direct;',
    ...LAB_BGP_TIMERS.map((t) => `  ${t}`),
    `  ${channel} { import all; export where proto = "calico_blocks"; next hop self; };`,
    '}',
    '',
    ...peers.flatMap((p) => [
      `protocol bgp ${meshProtocolName(address(p))} from bgp_template {`,
      `  neighbor ${address(p)} as ${as};`,
      '}',
    ]),
    '',
  ].join('\n');
}

/** argv of a node's BIRD (or BIRD6): in the foreground (-f) so the pid we spawn is BIRD's, in the node's namespace. */
export function birdArgv(plan: LabPlan, node: PlannedNode, paths: LabPaths, family: 4 | 6 = 4): string[] {
  return inNetns(node.netns, [
    BIRD_BINARY,
    '-f',
    '-c',
    birdConfigPath(paths, node.name, family),
    '-s',
    join(calicoRunDir(paths, node.name), family === 6 ? BIRD6_SOCKET_NAME : BIRD_SOCKET_NAME),
  ]);
}

/**
 * The lab's BGP (topology `routing: bgp`): a real BIRD 2 per node, in the node's namespace, peering with every other
 * node over the lab switch (node-to-node mesh, one AS, as calico/node's confd configures it) and exporting the
 * node's block, so other nodes' kernels get `<block> via <node IP> dev eth0 proto bird`. Its control socket lives in
 * the node's state dir, in a directory each node's sshd sees as /var/run/calico (sshd.ts), where calico/node has it.
 * The config is pure text, so tests pin it.
 */
import { join } from 'node:path';
import type { LabPlan, PlannedNode } from './plan.ts';
import type { LabPaths } from './state.ts';
import { inNetns } from './host-tools.ts';

export const BIRD_BINARY = 'bird';
/** The socket's name inside the node's calico run dir, as calico/node names it (/var/run/calico/bird.ctl). */
export const BIRD_SOCKET_NAME = 'bird.ctl';
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

export function birdConfigPath(paths: LabPaths, node: string): string {
  return join(paths.node(node), 'bird.conf');
}

/** Calico's protocol name for a mesh peer (confd's template: Mesh_ and the address with _ for .). */
export function meshProtocolName(ip: string): string {
  return `Mesh_${ip.replaceAll('.', '_')}`;
}

export function birdConfig(plan: LabPlan, node: PlannedNode, logFile: string): string {
  const as = plan.asNumber ?? 64512;
  const peers = plan.nodes.filter((n) => n.name !== node.name);
  return [
    `# k8snet lab ${plan.lab}: BIRD 2 on ${node.name}, node-to-node mesh as calico/node's confd writes it`,
    `log "${logFile}" all;`,
    `router id ${node.ip};`,
    '',
    'protocol device { scan time 10; }',
    '',
    "# Routes learned from the mesh go to the kernel (proto bird); this node's own blackhole is Felix's (proto 80).",
    'protocol kernel {',
    '  ipv4 { import none; export where source = RTS_BGP; };',
    '  scan time 10;',
    '}',
    '',
    "# The node's IPAM block, announced to every peer (calico/node exports its blocks the same way).",
    'protocol static calico_blocks {',
    '  ipv4;',
    `  route ${node.block} blackhole;`,
    '}',
    '',
    'template bgp bgp_template {',
    `  local ${node.ip} as ${as};`,
    '  direct;',
    ...LAB_BGP_TIMERS.map((t) => `  ${t}`),
    '  ipv4 { import all; export where proto = "calico_blocks"; next hop self; };',
    '}',
    '',
    ...peers.flatMap((p) => [
      `protocol bgp ${meshProtocolName(p.ip)} from bgp_template {`,
      `  neighbor ${p.ip} as ${as};`,
      '}',
    ]),
    '',
  ].join('\n');
}

/** argv of a node's BIRD: in the foreground (-f) so the pid we spawn is BIRD's, inside the node's namespace. */
export function birdArgv(plan: LabPlan, node: PlannedNode, paths: LabPaths): string[] {
  return inNetns(node.netns, [
    BIRD_BINARY,
    '-f',
    '-c',
    birdConfigPath(paths, node.name),
    '-s',
    join(calicoRunDir(paths, node.name), BIRD_SOCKET_NAME),
  ]);
}

/**
 * The node side of the operations: runs commands from a small fixed set through a NodeShell and turns their output
 * into the facts the diagnoses read. Every value that reaches an argv (netns names, IPs, ports) is validated first;
 * argv only, never a shell line. Machine-readable `ip -j` output is preferred; `ip route` text is kept as evidence.
 */
import type { PodInfo, ServiceInfo } from '../cluster/types.ts';
import type { CommandResult, NodeCommand, NodeShell, NodeTarget } from '../node/types.ts';
import * as catalogue from '../node/catalogue.ts';
import { discoverPodNetns, type PodNetns } from '../node/netns-discovery.ts';
import { CALICO_VXLAN } from '../calico/naming.ts';
import { K8snetError, describeError } from '../errors.ts';
import type { NodeFacts } from './trace-facts.ts';
import type { NodeRuleFacts, ServiceFacts } from './service-diagnosis.ts';
import type { ServiceDataplane } from '../dataplane/service-dataplane.ts';
import { dataplaneFor, detectKubeProxyMode, type DetectedMode } from '../dataplane/kube-proxy-mode.ts';
import { addressesFromIpJson, fdbFromBridgeJson, linksFromIpJson, neighboursFromIpJson, routesFromIpJson, type LinkFacts, type RouteLine } from '../parse/ip-json.ts';
import { parseIpRouteText, parseRouteN } from '../parse/route-text.ts';
import { parseIpLinkText } from '../parse/link-text.ts';
import { sysctlValues } from '../parse/sysctl.ts';
import { listeningPortsFromSs } from '../parse/listeners.ts';

/** The bounded test connection waits at most this long for the handshake. */
export const TEST_CONNECT_SECONDS = 3;

/** A session that ended with neither an exit status nor a signal lost its SSH connection, not its command. */
const connectionLost = (r: CommandResult) => r.exitCode === null && !r.signal && !r.timedOut;

/**
 * Runs a read-only catalogue command and returns its stdout, or throws saying how it failed. A command whose SSH
 * connection dropped under it runs once more (the pool makes a new connection): every command here only reads.
 */
async function runOk(shell: NodeShell, node: NodeTarget, command: NodeCommand, signal: AbortSignal): Promise<string> {
  let r = await shell.run(node, command, signal);
  if (connectionLost(r) && !signal.aborted) r = await shell.run(node, command, signal);
  if (r.timedOut) throw new K8snetError('timeout', `${command.argv.join(' ')} on ${node.name} took longer than ${command.timeoutSeconds} s`);
  if (r.exitCode !== 0) {
    const how = r.exitCode === null ? (r.signal ? `was killed by SIG${r.signal}` : 'ended without an exit status') : `exited ${r.exitCode}`;
    throw new K8snetError('ssh_command', `${command.argv.join(' ')} on ${node.name} ${how}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').at(-1)}` : ''}`);
  }
  return r.stdout;
}

// ---- node inspection ----

const SYSCTL_KEYS = ['net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter'];

/**
 * The main route table: `ip -j` where iproute2 has it (4.13+), else `ip route` text, else `route -n` (net-tools);
 * the text as printed is kept for the report either way.
 */
async function readRoutes(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<{ routes: RouteLine[]; text: string }> {
  const [json, text] = await Promise.all([
    runOk(shell, node, catalogue.ipRoute({ json: true, family: 4 }), signal).catch(() => null),
    runOk(shell, node, catalogue.ipRoute({ family: 4 }), signal).catch(() => null),
  ]);
  if (json !== null && text !== null) return { routes: routesFromIpJson(json), text };
  if (text !== null) return { routes: parseIpRouteText(text).routes, text };
  const table = await runOk(shell, node, catalogue.routeN(), signal);
  return { routes: parseRouteN(table).routes, text: table };
}

async function readLinks(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<LinkFacts[]> {
  const json = await runOk(shell, node, catalogue.ipLinks({ json: true }), signal).catch(() => null);
  if (json !== null) return linksFromIpJson(json);
  return parseIpLinkText(await runOk(shell, node, catalogue.ipLinks(), signal)).links;
}

export async function inspectNode(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<NodeFacts> {
  try {
    const [routes, links, sysctl, neighJson, fdbJson] = await Promise.all([
      readRoutes(shell, node, signal),
      // A node without any ip command still has a route table worth judging: its links are then unknown.
      readLinks(shell, node, signal).catch(() => null),
      runOk(shell, node, catalogue.sysctlNet(SYSCTL_KEYS), signal).catch(() => ''),
      runOk(shell, node, catalogue.ipNeigh(null, { json: true, family: 4 }), signal).catch(() => null),
      runOk(shell, node, catalogue.bridgeFdb(CALICO_VXLAN.device), signal).catch(() => null),
    ]);
    const values = sysctlValues(sysctl);
    const rpFilter: Record<string, number> = {};
    if (values['net.ipv4.conf.all.rp_filter'] !== undefined) rpFilter.all = Number(values['net.ipv4.conf.all.rp_filter']);
    return {
      name: node.name,
      ip: node.address,
      routes: routes.routes,
      links,
      // iproute2 ends some lines with a blank; keep the table as printed otherwise.
      routeTableText: routes.text.replace(/ +$/gm, ''),
      ipForward: values['net.ipv4.ip_forward'] === undefined ? null : values['net.ipv4.ip_forward'] === '1',
      rpFilter,
      neighbours: neighJson === null ? null : neighboursFromIpJson(neighJson),
      fdb: fdbJson === null ? null : fdbFromBridgeJson(fdbJson),
      error: null,
    };
  } catch (err) {
    return { name: node.name, ip: node.address, routes: null, links: null, routeTableText: null, ipForward: null, rpFilter: {}, neighbours: null, fdb: null, error: describeError(err) };
  }
}

/** The interface holding the node's own address (eth0, ens5, bond0 …). */
export async function uplinkInterfaceOn(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<string> {
  const addrs = addressesFromIpJson(await runOk(shell, node, catalogue.ipAddr({ json: true, family: 4 }), signal));
  return Object.entries(addrs).find(([, cidrs]) => cidrs.some((c) => c.split('/')[0] === node.address))?.[0] ?? 'eth0';
}

export function uplinkInterface(node: NodeFacts): string | null {
  return node.links?.find((l) => l.name === 'eth0')?.name ?? null;
}

// ---- pods' network namespaces ----

/** The pod's sandbox network namespace (the runtime first, then a scan by pod IP: node/netns-discovery.ts). */
export async function findPodNetns(shell: NodeShell, node: NodeTarget, pod: PodInfo, signal: AbortSignal): Promise<PodNetns | null> {
  return (await discoverPodNetns(shell, node, pod, signal)).found;
}

export async function listeningPorts(shell: NodeShell, node: NodeTarget, netns: string, signal: AbortSignal): Promise<number[] | null> {
  const out = await runOk(shell, node, catalogue.netnsExec(netns, catalogue.ssListeners()), signal).catch(() => runOk(shell, node, catalogue.netnsExec(netns, catalogue.netstatListeners()), signal).catch(() => null));
  return out === null ? null : listeningPortsFromSs(out);
}

export async function podNetworkInside(shell: NodeShell, node: NodeTarget, netns: string, signal: AbortSignal) {
  const [addrJson, addrText, routesJson, routeText] = await Promise.all([
    runOk(shell, node, catalogue.ipAddr({ netns, json: true }), signal),
    runOk(shell, node, catalogue.ipAddr({ netns, format: 'full' }), signal),
    runOk(shell, node, catalogue.netnsExec(netns, catalogue.ipRoute({ json: true, family: 4 })), signal),
    runOk(shell, node, catalogue.netnsExec(netns, catalogue.ipRoute({ family: 4 })), signal),
  ]);
  return { addresses: addressesFromIpJson(addrJson), addrText, routes: routesFromIpJson(routesJson), routeText };
}

/** A bounded TCP connect from inside `netns` (or the node itself): the catalogue's constant script, values as positional parameters. */
export async function testConnect(shell: NodeShell, node: NodeTarget, netns: string | null, ip: string, port: number, signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
  const r = await shell.run(node, catalogue.testConnect(netns, ip, port, TEST_CONNECT_SECONDS), signal);
  if (r.stdout.includes('connected')) return { ok: true, detail: 'connected' };
  if (r.exitCode === 124 || r.timedOut) return { ok: false, detail: `no answer within ${TEST_CONNECT_SECONDS} s` };
  return { ok: false, detail: r.stderr.trim().split('\n').at(-1)?.replace(/^.*: /, '') || `exit ${r.exitCode}` };
}

// ---- kube-proxy rules ----

/**
 * kube-proxy's mode on a node: its /proxyMode answer on the node's loopback (curl, else bash's /dev/tcp), the tables
 * it wrote, and the rule counts of both iptables backends. Each read may fail (no nft, no curl, no table): null.
 */
export async function detectModeOn(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<DetectedMode> {
  const quiet = (c: NodeCommand) => runOk(shell, node, c, signal).catch(() => null);
  const [nftTable, natSave, proxyMode, legacySave, nftSave] = await Promise.all([
    quiet(catalogue.nftListTable('ip')),
    quiet(catalogue.iptablesSave('nat')),
    quiet(catalogue.kubeProxyMode()).then((r) => (r === null || r.trim() === '' ? quiet(catalogue.kubeProxyMode({ tool: 'bash' })) : r)),
    quiet(catalogue.iptablesBackendSave('legacy')),
    quiet(catalogue.iptablesBackendSave('nft')),
  ]);
  return detectKubeProxyMode({ nftTable, natSave, proxyMode, legacySave, nftSave });
}

async function readDataplane(shell: NodeShell, node: NodeTarget, dataplane: ServiceDataplane, signal: AbortSignal): Promise<string[]> {
  const [required, optional] = await Promise.all([
    Promise.all(dataplane.commands().map((c) => runOk(shell, node, c, signal))),
    Promise.all((dataplane.optionalCommands?.() ?? []).map((c) => runOk(shell, node, c, signal).catch(() => ''))),
  ]);
  return [...required, ...optional];
}

/** The walker for the node's detected mode, or a clear error for a mode k8snet does not walk. */
function dataplaneOrThrow(node: NodeTarget, detected: DetectedMode): ServiceDataplane {
  const dataplane = dataplaneFor(detected.mode);
  if (dataplane === null) throw new K8snetError('not_found', `kube-proxy on ${node.name} runs in ${detected.mode} mode, which k8snet does not walk yet`);
  return dataplane;
}

/** One node's kube-proxy path for a Service port; the walker is the node's detected mode unless one is given. */
export async function inspectServiceRules(shell: NodeShell, node: NodeTarget, kind: ServiceFacts['kind'], svc: ServiceInfo, port: number, signal: AbortSignal, given?: ServiceDataplane): Promise<NodeRuleFacts> {
  const detected = given ? null : await detectModeOn(shell, node, signal);
  const dataplane = given ?? dataplaneOrThrow(node, detected!);
  const [outputs, ss] = await Promise.all([
    readDataplane(shell, node, dataplane, signal),
    kind === 'nodeport' ? runOk(shell, node, catalogue.ssListeners(), signal).catch(() => null) : Promise.resolve(null),
  ]);
  const servicePort = svc.ports.find((p) => (kind === 'nodeport' ? p.nodePort === port : p.port === port));
  const protocol = servicePort ? { protocol: servicePort.protocol } : {};
  const walk = dataplane.walk(outputs, kind === 'nodeport' ? { nodePort: port, ...protocol } : { clusterIP: svc.clusterIP ?? '', port, ...protocol });
  const listeners = ss === null ? null : listeningPortsFromSs(ss).includes(port) ? [`*:${port}`] : [];
  return {
    name: node.name,
    ip: node.address,
    mode: dataplane.mode,
    detected,
    rules: walk.rules,
    dnatTargets: walk.dnatTargets,
    entryRule: walk.entryRule,
    rejects: walk.rejects,
    drops: walk.drops,
    ...(walk.nodePortAddresses === undefined ? {} : { nodePortAddresses: walk.nodePortAddresses }),
    listeners,
    error: null,
  };
}

/** The NodePorts a node's kube-proxy rules serve (its detected mode unless a walker is given), or null when they could not be read. */
export async function nodePortsOn(shell: NodeShell, node: NodeTarget, signal: AbortSignal, given?: ServiceDataplane): Promise<number[] | null> {
  try {
    const dataplane = given ?? dataplaneOrThrow(node, await detectModeOn(shell, node, signal));
    return dataplane.nodePorts(await readDataplane(shell, node, dataplane, signal));
  } catch {
    return null;
  }
}

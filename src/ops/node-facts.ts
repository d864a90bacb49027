/**
 * The node side of the operations: runs commands from a small fixed set through a NodeShell and turns their output
 * into the facts the diagnoses read. Every value that reaches an argv (netns names, IPs, ports) is validated first;
 * argv only, never a shell line. Machine-readable `ip -j` output is preferred; `ip route` text is kept as evidence.
 */
import type { PodInfo, ServiceInfo } from '../cluster/types.ts';
import type { CommandResult, NodeCommand, NodeShell, NodeTarget } from '../node/types.ts';
import { K8snetError, describeError } from '../errors.ts';
import { validateContainerId, validateIp, validateNamespace, validateNetnsName, validatePodName, validatePort } from '../validate.ts';
import type { LinkFacts, NodeFacts, RouteLine } from './trace-facts.ts';
import type { NodeRuleFacts, ServiceFacts } from './service-diagnosis.ts';
import { kubeProxyWalk } from './kube-proxy-walk.ts';
import { parseIpRouteText, parseRouteN } from '../parse/route-text.ts';
import { parseIpLinkText } from '../parse/link-text.ts';

/** Output caps: a route table or nat table of a big node is well under these. */
const SMALL_OUTPUT = 1024 * 1024;
const LARGE_OUTPUT = 8 * 1024 * 1024;
const QUICK_SECONDS = 10;
/** The bounded test connection waits at most this long for the handshake. */
export const TEST_CONNECT_SECONDS = 3;

function cmd(argv: string[], options: { privileged?: boolean; maxOutputBytes?: number; timeoutSeconds?: number } = {}): NodeCommand {
  return { argv, timeoutSeconds: options.timeoutSeconds ?? QUICK_SECONDS, maxOutputBytes: options.maxOutputBytes ?? SMALL_OUTPUT, ...(options.privileged ? { privileged: true } : {}) };
}

/** Where runtimes keep network namespaces: containerd's CNI (`/var/run/netns/cni-…`) and docker's sandboxes. */
const NETNS_PATH = /^\/(?:var\/)?run\/(?:docker\/)?netns\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Runs argv inside a network namespace given by `ip netns` name, or by path for docker's (not under /var/run/netns). */
export function inNetns(netns: string, argv: string[]): string[] {
  if (netns.startsWith('/')) {
    if (!NETNS_PATH.test(netns)) throw new K8snetError('invalid_input', `netns: ${JSON.stringify(netns)} is not a network namespace path`);
    return ['nsenter', `--net=${netns}`, '--', ...argv];
  }
  return ['ip', 'netns', 'exec', validateNetnsName(netns), ...argv];
}

/** A runtime's namespace path as k8snet addresses it: an `ip netns` name when it lives in /var/run/netns. */
export function netnsFromPath(path: string): string | null {
  const m = /^\/(?:var\/)?run\/netns\/(?<name>[A-Za-z0-9][A-Za-z0-9_.-]*)$/.exec(path);
  if (m?.groups) return m.groups.name!;
  return NETNS_PATH.test(path) ? path : null;
}

interface CrictlInspectp {
  status?: { id?: string; network?: { ip?: string } };
  info?: { runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } } };
}

/** The sandbox's network namespace from `crictl inspectp -o json` (containerd / CRI-O). */
export function netnsFromCrictl(json: string): { netns: string; sandboxId: string | null } | null {
  let parsed: CrictlInspectp;
  try {
    parsed = JSON.parse(json) as CrictlInspectp;
  } catch {
    return null;
  }
  const path = parsed.info?.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
  const netns = path ? netnsFromPath(path) : null;
  return netns ? { netns, sandboxId: parsed.status?.id ?? null } : null;
}

async function viaCrictl(shell: NodeShell, node: NodeTarget, pod: PodInfo, signal: AbortSignal): Promise<PodNetns | null> {
  const ids = await runOk(shell, node, cmd(['crictl', 'pods', '-q', '--name', validatePodName(pod.name), '--namespace', validateNamespace(pod.namespace), '--state', 'ready'], { privileged: true }), signal).catch(() => null);
  const id = ids?.split('\n').map((s) => s.trim()).find((s) => /^[0-9a-f]{12,64}$/.test(s));
  if (!id) return null;
  const found = netnsFromCrictl(await runOk(shell, node, cmd(['crictl', 'inspectp', '-o', 'json', id], { privileged: true }), signal).catch(() => ''));
  return found ? { ...found, foundBy: 'crictl' } : null;
}

/** dockershim-era nodes: the app container joins the pause container's namespace (NetworkMode container:<id>). */
async function viaDocker(shell: NodeShell, node: NodeTarget, pod: PodInfo, signal: AbortSignal): Promise<PodNetns | null> {
  const id = pod.containers.map((c) => c.containerID).find((c) => c?.startsWith('docker://'))?.slice('docker://'.length);
  if (!id) return null;
  const inspect = async (ref: string) => JSON.parse(await runOk(shell, node, cmd(['docker', 'inspect', validateContainerId(ref)], { privileged: true }), signal)) as { Id: string; HostConfig?: { NetworkMode?: string }; NetworkSettings?: { SandboxKey?: string } }[];
  try {
    let [c] = await inspect(id);
    const mode = c?.HostConfig?.NetworkMode ?? '';
    if (mode.startsWith('container:')) [c] = await inspect(mode.slice('container:'.length));
    const netns = c?.NetworkSettings?.SandboxKey ? netnsFromPath(c.NetworkSettings.SandboxKey) : null;
    return netns ? { netns, foundBy: 'docker', sandboxId: c!.Id } : null;
  } catch {
    return null;
  }
}

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

// ---- ip -j output → facts (JSON, so no text parsing) ----

interface IpJsonRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  flags?: string[];
  /** A multipath route's next hops (its own gateway and dev are then absent). */
  nexthops?: { gateway?: string; dev?: string; weight?: number; flags?: string[] }[];
}

/** The route as `ip route` prints it, so evidence reads like what an engineer would see by hand (next hops on one line). */
export function routeText(r: IpJsonRoute): string {
  const parts = [r.type && r.type !== 'unicast' ? `${r.type} ${r.dst}` : r.dst];
  if (r.gateway) parts.push(`via ${r.gateway}`);
  if (r.dev) parts.push(`dev ${r.dev}`);
  if (r.protocol) parts.push(`proto ${r.protocol}`);
  if (r.scope) parts.push(`scope ${r.scope}`);
  if (r.prefsrc) parts.push(`src ${r.prefsrc}`);
  if (r.metric !== undefined) parts.push(`metric ${r.metric}`);
  for (const f of r.flags ?? []) parts.push(f);
  for (const nh of r.nexthops ?? []) {
    parts.push('nexthop');
    if (nh.gateway) parts.push(`via ${nh.gateway}`);
    if (nh.dev) parts.push(`dev ${nh.dev}`);
    if (nh.weight !== undefined) parts.push(`weight ${nh.weight}`);
    for (const f of nh.flags ?? []) parts.push(f);
  }
  return parts.join(' ');
}

/** A multipath route's gateway and device are its first next hop's, as `route -n` shows it. */
export function routesFromIpJson(json: string): RouteLine[] {
  return (JSON.parse(json || '[]') as IpJsonRoute[]).map((r) => ({ raw: routeText(r), destination: r.dst, gateway: r.gateway ?? r.nexthops?.[0]?.gateway ?? null, device: r.dev ?? r.nexthops?.[0]?.dev ?? null, type: r.type ?? 'unicast' }));
}

interface IpJsonLink {
  ifname: string;
  flags?: string[];
  mtu?: number;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

export function linksFromIpJson(json: string): LinkFacts[] {
  return (JSON.parse(json || '[]') as IpJsonLink[]).map((l) => ({ name: l.ifname, up: (l.flags ?? []).includes('UP'), mtu: l.mtu ?? null }));
}

/** IPv4 addresses per interface, from `ip -j addr`. */
export function addressesFromIpJson(json: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const l of JSON.parse(json || '[]') as IpJsonLink[]) out[l.ifname] = (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
  return out;
}

export function neighboursFromIpJson(json: string): NonNullable<NodeFacts['neighbours']> {
  return (JSON.parse(json || '[]') as { dst: string; dev?: string; lladdr?: string; state?: string[] }[]).map((n) => ({ ip: n.dst, device: n.dev ?? null, lladdr: n.lladdr ?? null, state: n.state ?? [] }));
}

/** `sysctl key …` lines ("net.ipv4.ip_forward = 1"; an interface name's dots print as `/`: "net.ipv4.conf.vxlan/calico.rp_filter"). */
export function sysctlValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^(?<key>[a-z0-9_./-]+)\s*=\s*(?<value>.*)$/gim)) out[m.groups!.key!] = m.groups!.value!.trim();
  return out;
}

/**
 * Listening TCP ports from `ss -H -lnt` ("LISTEN 0 511 0.0.0.0:80 0.0.0.0:*") or `netstat -lnt` ("tcp 0 0 0.0.0.0:80
 * 0.0.0.0:* LISTEN"). `ss` with -u or -a puts a Netid column first, and netstat a Proto one: only tcp lines count there.
 * A line counts when its state is LISTEN.
 */
export function listeningPortsFromSs(text: string): number[] {
  const ports = new Set<number>();
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // Netid/Proto is a lowercase word (tcp, tcp6, udp, u_str, unix …); a state is uppercase (LISTEN, UNCONN).
    if (/^[a-z][a-z0-9_]*$/.test(cols[0]!) && !cols.shift()!.startsWith('tcp')) continue;
    // Left: ss's State Recv-Q Send-Q Local …, or netstat's Recv-Q Send-Q Local Foreign State.
    const [state, local] = /^\d+$/.test(cols[0] ?? '') ? [cols[4], cols[2]] : [cols[0], cols[3]];
    const m = state === 'LISTEN' && local ? /:(?<port>\d+)$/.exec(local) : null;
    if (m?.groups) ports.add(Number(m.groups.port));
  }
  return [...ports].sort((a, b) => a - b);
}

// ---- node inspection ----

const SYSCTL_KEYS = ['net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter'];

/**
 * The main route table: `ip -j` where iproute2 has it (4.13+), else `ip route` text, else `route -n` (net-tools);
 * the text as printed is kept for the report either way.
 */
async function readRoutes(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<{ routes: RouteLine[]; text: string }> {
  const [json, text] = await Promise.all([
    runOk(shell, node, cmd(['ip', '-j', '-4', 'route', 'show', 'table', 'main']), signal).catch(() => null),
    runOk(shell, node, cmd(['ip', '-4', 'route', 'show', 'table', 'main']), signal).catch(() => null),
  ]);
  if (json !== null && text !== null) return { routes: routesFromIpJson(json), text };
  if (text !== null) return { routes: parseIpRouteText(text).routes, text };
  const table = await runOk(shell, node, cmd(['route', '-n']), signal);
  return { routes: parseRouteN(table).routes, text: table };
}

async function readLinks(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<LinkFacts[]> {
  const json = await runOk(shell, node, cmd(['ip', '-j', 'link', 'show']), signal).catch(() => null);
  if (json !== null) return linksFromIpJson(json);
  return parseIpLinkText(await runOk(shell, node, cmd(['ip', '-o', 'link', 'show']), signal)).links;
}

export async function inspectNode(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<NodeFacts> {
  try {
    const [routes, links, sysctl, neighJson, fdbJson] = await Promise.all([
      readRoutes(shell, node, signal),
      // A node without any ip command still has a route table worth judging: its links are then unknown.
      readLinks(shell, node, signal).catch(() => null),
      runOk(shell, node, cmd(['sysctl', ...SYSCTL_KEYS]), signal).catch(() => ''),
      runOk(shell, node, cmd(['ip', '-j', '-4', 'neigh', 'show']), signal).catch(() => null),
      runOk(shell, node, cmd(['bridge', '-j', 'fdb', 'show', 'dev', 'vxlan.calico']), signal).catch(() => null),
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
      fdb: fdbJson === null ? null : (JSON.parse(fdbJson || '[]') as { mac: string; dst?: string }[]).map((e) => ({ mac: e.mac, dst: e.dst ?? null })),
      error: null,
    };
  } catch (err) {
    return { name: node.name, ip: node.address, routes: null, links: null, routeTableText: null, ipForward: null, rpFilter: {}, neighbours: null, fdb: null, error: describeError(err) };
  }
}

/** The interface holding the node's own address (eth0, ens5, bond0 …). */
export async function uplinkInterfaceOn(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<string> {
  const addrs = addressesFromIpJson(await runOk(shell, node, cmd(['ip', '-j', '-4', 'addr', 'show']), signal));
  return Object.entries(addrs).find(([, cidrs]) => cidrs.some((c) => c.split('/')[0] === node.address))?.[0] ?? 'eth0';
}

export function uplinkInterface(node: NodeFacts): string | null {
  return node.links?.find((l) => l.name === 'eth0')?.name ?? null;
}

// ---- pods' network namespaces ----

export interface PodNetns {
  netns: string;
  foundBy: 'crictl' | 'docker' | 'scan';
  sandboxId: string | null;
}

/** Named network namespaces on the node (`ip -j netns list`). */
async function listNetns(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<string[]> {
  const out = await runOk(shell, node, cmd(['ip', '-j', 'netns', 'list'], { privileged: true }), signal).catch(() => '[]');
  return (JSON.parse(out || '[]') as { name: string }[]).map((n) => n.name).filter((n) => /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(n));
}

/**
 * Finds the pod's sandbox network namespace: by asking the runtime (crictl for containerd/CRI-O, docker inspect for
 * docker) when it is there, else by looking in every named namespace for the pod IP.
 */
export async function findPodNetns(shell: NodeShell, node: NodeTarget, pod: PodInfo, signal: AbortSignal): Promise<PodNetns | null> {
  const runtime = pod.containers.some((c) => c.containerID?.startsWith('docker://')) ? await viaDocker(shell, node, pod, signal) : await viaCrictl(shell, node, pod, signal);
  if (runtime) return runtime;
  if (!pod.podIP) return null;
  const podIP = validateIp(pod.podIP, 'pod IP');
  for (const name of await listNetns(shell, node, signal)) {
    const json = await runOk(shell, node, cmd(['ip', '-n', name, '-j', '-4', 'addr', 'show'], { privileged: true }), signal).catch(() => '[]');
    if (Object.values(addressesFromIpJson(json)).some((cidrs) => cidrs.some((c) => c.split('/')[0] === podIP))) return { netns: name, foundBy: 'scan', sandboxId: null };
  }
  return null;
}

export async function listeningPorts(shell: NodeShell, node: NodeTarget, netns: string, signal: AbortSignal): Promise<number[] | null> {
  const out = await runOk(shell, node, cmd(inNetns(netns, ['ss', '-H', '-lnt']), { privileged: true }), signal).catch(() => runOk(shell, node, cmd(inNetns(netns, ['netstat', '-lnt']), { privileged: true }), signal).catch(() => null));
  return out === null ? null : listeningPortsFromSs(out);
}

export async function podNetworkInside(shell: NodeShell, node: NodeTarget, netns: string, signal: AbortSignal) {
  const [addrJson, addrText, routesJson, routeText] = await Promise.all([
    runOk(shell, node, cmd(inNetns(netns, ['ip', '-j', 'addr', 'show']), { privileged: true }), signal),
    runOk(shell, node, cmd(inNetns(netns, ['ip', 'addr', 'show']), { privileged: true }), signal),
    runOk(shell, node, cmd(inNetns(netns, ['ip', '-j', '-4', 'route', 'show']), { privileged: true }), signal),
    runOk(shell, node, cmd(inNetns(netns, ['ip', '-4', 'route', 'show']), { privileged: true }), signal),
  ]);
  return { addresses: addressesFromIpJson(addrJson), addrText, routes: routesFromIpJson(routesJson), routeText };
}

/**
 * A bounded TCP connect from inside `netns` (or the node itself): a constant script, the address and port passed
 * as positional parameters, never interpolated.
 */
const CONNECT_SCRIPT = 'exec 3<>"/dev/tcp/$1/$2" && echo connected';

export async function testConnect(shell: NodeShell, node: NodeTarget, netns: string | null, ip: string, port: number, signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
  const argv = ['timeout', String(TEST_CONNECT_SECONDS), 'bash', '-c', CONNECT_SCRIPT, 'k8snet-connect', validateIp(ip), String(validatePort(port))];
  const r = await shell.run(node, cmd(netns ? inNetns(netns, argv) : argv, { privileged: netns !== null, timeoutSeconds: TEST_CONNECT_SECONDS + 2 }), signal);
  if (r.stdout.includes('connected')) return { ok: true, detail: 'connected' };
  if (r.exitCode === 124 || r.timedOut) return { ok: false, detail: `no answer within ${TEST_CONNECT_SECONDS} s` };
  return { ok: false, detail: r.stderr.trim().split('\n').at(-1)?.replace(/^.*: /, '') || `exit ${r.exitCode}` };
}

// ---- kube-proxy rules ----

export async function inspectServiceRules(shell: NodeShell, node: NodeTarget, kind: ServiceFacts['kind'], svc: ServiceInfo, port: number, signal: AbortSignal): Promise<NodeRuleFacts> {
  // nat holds the DNAT path; filter holds kube-proxy's REJECT for a Service without endpoints.
  const [nat, filter, ss] = await Promise.all([
    runOk(shell, node, cmd(['iptables-save', '-t', 'nat'], { privileged: true, maxOutputBytes: LARGE_OUTPUT }), signal),
    runOk(shell, node, cmd(['iptables-save', '-t', 'filter'], { privileged: true, maxOutputBytes: LARGE_OUTPUT }), signal),
    kind === 'nodeport' ? runOk(shell, node, cmd(['ss', '-H', '-lnt'], { privileged: true }), signal).catch(() => null) : Promise.resolve(null),
  ]);
  const servicePort = svc.ports.find((p) => (kind === 'nodeport' ? p.nodePort === port : p.port === port));
  const protocol = servicePort ? { protocol: servicePort.protocol } : {};
  const walk = kubeProxyWalk(`${nat}\n${filter}`, kind === 'nodeport' ? { nodePort: port, ...protocol } : { clusterIP: svc.clusterIP ?? '', port, ...protocol });
  const listeners = ss === null ? null : listeningPortsFromSs(ss).includes(port) ? [`*:${port}`] : [];
  return { name: node.name, ip: node.address, rules: walk.rules, dnatTargets: walk.dnatTargets, entryRule: walk.entryRule, rejects: walk.rejects, drops: walk.drops, listeners, error: null };
}

/**
 * The node side of the operations: runs commands from a small fixed set through a NodeShell and turns their output
 * into the facts the diagnoses read. Every value that reaches an argv (netns names, IPs, ports) is validated first;
 * argv only, never a shell line. Machine-readable `ip -j` output is preferred; `ip route` text is kept as evidence.
 */
import type { PodInfo, ServiceInfo } from '../cluster/types.ts';
import type { CommandResult, NodeCommand, NodeShell, NodeTarget } from '../node/types.ts';
import * as catalogue from '../node/catalogue.ts';
import { discoverPodNetns, type PodNetns } from '../node/netns-discovery.ts';
import { CALICO_IPIP_DEVICE, CALICO_VXLAN } from '../calico/naming.ts';
import { K8snetError, describeError } from '../errors.ts';
import { ipFamily } from '../validate.ts';
import type { NodeFacts } from './trace-facts.ts';
import type { NodeRuleFacts, ServiceFacts } from './service-diagnosis.ts';
import type { KubeProxyMode, ServiceDataplane } from '../dataplane/service-dataplane.ts';
import { dataplaneFor, detectKubeProxyMode, type DetectedMode } from '../dataplane/kube-proxy-mode.ts';
import {
  addressesFromIpJson,
  fdbFromBridgeJson,
  linksFromIpJson,
  neighboursFromIpJson,
  routesFromIpJson,
  type LinkFacts,
  type RouteLine,
} from '../parse/ip-json.ts';
import { parseIpRouteText, parseRouteN } from '../parse/route-text.ts';
import { parseIpRule, type RouteRule } from '../parse/ip-rule.ts';
import { parseIpLinkText } from '../parse/link-text.ts';
import { sysctlValues } from '../parse/sysctl.ts';
import { acceptsOn, listenersFromSs, type Listener } from '../parse/listeners.ts';
import { parseEthtoolFeatures } from '../parse/ethtool-features.ts';
import type { PodInside } from './trace-facts.ts';
import type { IptablesSave } from '../parse/iptables-save.ts';
import { parseConntrack } from '../parse/conntrack.ts';
import { parseNetworkctlList, parseNmcliDeviceStatus } from '../parse/interface-managers.ts';
import type { InterfaceManagerReading } from './interface-manager-findings.ts';
import type { ConntrackReading } from './conntrack-findings.ts';

/** The bounded test connection waits at most this long for the handshake. */
export const TEST_CONNECT_SECONDS = 3;

/** A session that ended with neither an exit status nor a signal lost its SSH connection, not its command. */
const connectionLost = (r: CommandResult) => r.exitCode === null && !r.signal && !r.timedOut;

/**
 * Runs a read-only catalogue command and returns its stdout, or throws saying how it failed. A command whose SSH
 * connection dropped under it runs once more (the pool makes a new connection): every command here only reads.
 */
export async function runOk(
  shell: NodeShell,
  node: NodeTarget,
  command: NodeCommand,
  signal: AbortSignal,
): Promise<string> {
  let r = await shell.run(node, command, signal);
  if (connectionLost(r) && !signal.aborted) r = await shell.run(node, command, signal);
  if (r.timedOut)
    throw new K8snetError(
      'timeout',
      `${command.argv.join(' ')} on ${node.name} took longer than ${command.timeoutSeconds} s`,
    );
  if (r.exitCode !== 0) {
    const how =
      r.exitCode === null
        ? r.signal
          ? `was killed by SIG${r.signal}`
          : 'ended without an exit status'
        : `exited ${r.exitCode}`;
    throw new K8snetError(
      'ssh_command',
      `${command.argv.join(' ')} on ${node.name} ${how}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').at(-1)}` : ''}`,
    );
  }
  return r.stdout;
}

// ---- node inspection ----

const SYSCTL_KEYS = ['net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter'];
/** IPv6 forwarding; rp_filter has no IPv6 counterpart (Felix's IPv6 RPF check is an ip6tables rule). */
const SYSCTL_KEYS_V6 = ['net.ipv6.conf.all.forwarding'];
/** Either family: how full the connection tracking table is. */
const CONNTRACK_KEYS = ['net.netfilter.nf_conntrack_count', 'net.netfilter.nf_conntrack_max'];
/** rp_filter of Calico's tunnel devices (IPv4): strict mode there drops pod traffic arriving decapsulated. */
const TUNNEL_RP_FILTER_KEYS = [CALICO_VXLAN.device, CALICO_IPIP_DEVICE].map((d) =>
  catalogue.interfaceSysctlKey(d, 'rp_filter'),
);

export type Family = 4 | 6;

/**
 * The route tables of one family: every table from `ip -j route show table all` where iproute2 has -j (4.13+) —
 * policy routing sends some traffic elsewhere than main (RouteLine.table) — else the main table from `ip -j`, `ip
 * route` text or `route -n` (net-tools, IPv4 only). The main table as printed is kept for the report either way.
 */
export async function readRoutes(
  shell: NodeShell,
  node: NodeTarget,
  signal: AbortSignal,
  family: Family,
): Promise<{ routes: RouteLine[]; text: string }> {
  const [all, json, text] = await Promise.all([
    runOk(shell, node, catalogue.ipRoute({ json: true, family, table: 'all' }), signal).catch(() => null),
    runOk(shell, node, catalogue.ipRoute({ json: true, family }), signal).catch(() => null),
    runOk(shell, node, catalogue.ipRoute({ family }), signal).catch(() => null),
  ]);
  const fromJson = all ?? json;
  if (fromJson !== null && text !== null) return { routes: routesFromIpJson(fromJson), text };
  if (text !== null) return { routes: parseIpRouteText(text).routes, text };
  if (family === 6)
    throw new K8snetError('ssh_command', `${node.name} answered neither ip -j -6 route nor ip -6 route`);
  const table = await runOk(shell, node, catalogue.routeN(), signal);
  return { routes: parseRouteN(table).routes, text: table };
}

/** `ip rule` (JSON, else text); null when the node has no ip command or it fails: lookups then use the main table. */
async function readRules(
  shell: NodeShell,
  node: NodeTarget,
  signal: AbortSignal,
  family: Family,
): Promise<RouteRule[] | null> {
  const json = await runOk(shell, node, catalogue.ipRule({ json: true, family }), signal).catch(() => null);
  const out = json ?? (await runOk(shell, node, catalogue.ipRule({ family }), signal).catch(() => null));
  if (out === null) return null;
  const { rules } = parseIpRule(out);
  return rules.length > 0 ? rules : null;
}

async function readLinks(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<LinkFacts[]> {
  const json = await runOk(shell, node, catalogue.ipLinks({ json: true }), signal).catch(() => null);
  if (json !== null) return linksFromIpJson(json);
  return parseIpLinkText(await runOk(shell, node, catalogue.ipLinks(), signal)).links;
}

/**
 * A node's routing and forwarding facts for one address family (4 by default; 6 for IPv6 pods and Services: `ip -6`,
 * the vxlan-v6.calico FDB, IPv6 forwarding).
 */
export async function inspectNode(
  shell: NodeShell,
  node: NodeTarget,
  signal: AbortSignal,
  options: { family?: Family } = {},
): Promise<NodeFacts> {
  const family = options.family ?? 4;
  try {
    const [routes, links, sysctl, neighJson, fdbJson, rules, addrJson, ethtool, interfaceManagers] = await Promise.all([
      readRoutes(shell, node, signal, family),
      // A node without any ip command still has a route table worth judging: its links are then unknown.
      readLinks(shell, node, signal).catch(() => null),
      // `sysctl -e` skips keys the node lacks: the tunnel devices' keys are asked for whether or not they exist.
      runOk(
        shell,
        node,
        catalogue.sysctlNet(
          family === 6
            ? [...SYSCTL_KEYS_V6, ...CONNTRACK_KEYS]
            : [...SYSCTL_KEYS, ...CONNTRACK_KEYS, ...TUNNEL_RP_FILTER_KEYS],
        ),
        signal,
      ).catch(() => ''),
      runOk(shell, node, catalogue.ipNeigh(null, { json: true, family }), signal).catch(() => null),
      runOk(shell, node, catalogue.bridgeFdb(family === 6 ? CALICO_VXLAN.deviceV6 : CALICO_VXLAN.device), signal).catch(
        () => null,
      ),
      readRules(shell, node, signal, family),
      // The uplink holds the node's address (the SSH target's, IPv4 on every node we reach).
      runOk(shell, node, catalogue.ipAddr({ json: true }), signal).catch(() => null),
      runOk(
        shell,
        node,
        catalogue.ethtoolFeatures(family === 6 ? CALICO_VXLAN.deviceV6 : CALICO_VXLAN.device),
        signal,
      ).catch(() => null),
      readInterfaceManagers(shell, node, signal).catch(() => null),
    ]);
    const addresses = addrJson === null ? null : addressesFromIpJson(addrJson, { ipv6: true });
    const uplink = addresses === null ? null : uplinkFromAddresses(addresses, node.address);
    const underlayIPs = (uplink ? (addresses?.[uplink] ?? []) : [])
      .map((a) => a.split('/')[0]!)
      .filter((ip) => ipFamily(ip) === family);
    // The uplink's own rp_filter needs its name: one more short read (IPv4 only: IPv6 has no rp_filter).
    const perInterfaceSysctl =
      uplink && family === 4
        ? await runOk(
            shell,
            node,
            catalogue.sysctlNet([catalogue.interfaceSysctlKey(uplink, 'rp_filter')]),
            signal,
          ).catch(() => '')
        : '';
    const values = { ...sysctlValues(sysctl), ...sysctlValues(perInterfaceSysctl) };
    const forwarding = values[family === 6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward'];
    const rpFilter: Record<string, number> = {};
    for (const [key, value] of Object.entries(values)) {
      const m = /^net\.ipv4\.conf\.(?<ifname>.+)\.rp_filter$/.exec(key);
      if (m?.groups) rpFilter[m.groups.ifname!.replaceAll('/', '.')] = Number(value);
    }
    const count = values['net.netfilter.nf_conntrack_count'];
    const max = values['net.netfilter.nf_conntrack_max'];
    const txChecksum =
      ethtool === null ? null : (parseEthtoolFeatures(ethtool).features['tx-checksum-ip-generic'] ?? null);
    return {
      name: node.name,
      ip: node.address,
      routes: routes.routes,
      rules,
      links,
      uplink,
      underlayIPs,
      // iproute2 ends some lines with a blank; keep the table as printed otherwise.
      routeTableText: routes.text.replace(/ +$/gm, ''),
      ipForward: forwarding === undefined ? null : forwarding === '1',
      rpFilter,
      conntrack: count !== undefined && max !== undefined ? { count: Number(count), max: Number(max) } : null,
      interfaceManagers,
      tunnelOffload:
        txChecksum === null
          ? null
          : {
              device: family === 6 ? CALICO_VXLAN.deviceV6 : CALICO_VXLAN.device,
              txChecksumIpGeneric: txChecksum.on,
              line: txChecksum.line,
            },
      neighbours: neighJson === null ? null : neighboursFromIpJson(neighJson),
      fdb: fdbJson === null ? null : fdbFromBridgeJson(fdbJson),
      error: null,
    };
  } catch (err) {
    return {
      name: node.name,
      ip: node.address,
      routes: null,
      links: null,
      uplink: null,
      routeTableText: null,
      ipForward: null,
      rpFilter: {},
      conntrack: null,
      tunnelOffload: null,
      neighbours: null,
      fdb: null,
      error: describeError(err),
    };
  }
}

/** The interface holding `address` among `ip -j addr`'s interfaces (eth0, ens5, enp0s3, bond0 …); null when none does. */
export function uplinkFromAddresses(addresses: Record<string, string[]>, address: string): string | null {
  return Object.entries(addresses).find(([, cidrs]) => cidrs.some((c) => c.split('/')[0] === address))?.[0] ?? null;
}

/** The interface holding the node's own address (eth0, ens5, bond0 …). */
export async function uplinkInterfaceOn(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<string> {
  const addrs = addressesFromIpJson(await runOk(shell, node, catalogue.ipAddr({ json: true, family: 4 }), signal));
  return uplinkFromAddresses(addrs, node.address) ?? 'eth0';
}

/** The node's uplink as inspected: the interface that holds its address, not an assumed eth0. */
export function uplinkInterface(node: NodeFacts): string | null {
  return node.uplink;
}

// ---- pods' network namespaces ----

/** The discovery with the steps it tried (for a report that says why no namespace was found); never rejects. */
export async function discoverNetns(
  shell: NodeShell,
  node: NodeTarget,
  pod: PodInfo,
  signal: AbortSignal,
): Promise<{ found: PodNetns | null; steps: string[] }> {
  try {
    return await discoverPodNetns(shell, node, pod, signal);
  } catch (err) {
    return { found: null, steps: [describeError(err)] };
  }
}

/** The pod's sandbox network namespace (the runtime first, then a scan by pod IP: node/netns-discovery.ts). */
export async function findPodNetns(
  shell: NodeShell,
  node: NodeTarget,
  pod: PodInfo,
  signal: AbortSignal,
): Promise<PodNetns | null> {
  return (await discoverPodNetns(shell, node, pod, signal)).found;
}

/** The TCP listeners inside a pod's network namespace (ss, else netstat), with their bind addresses and processes; null: unreadable. */
export async function listenersIn(
  shell: NodeShell,
  node: NodeTarget,
  netns: string,
  signal: AbortSignal,
): Promise<Listener[] | null> {
  const out = await runOk(shell, node, catalogue.netnsExec(netns, catalogue.ssListeners()), signal).catch(() =>
    runOk(shell, node, catalogue.netnsExec(netns, catalogue.netstatListeners()), signal).catch(() => null),
  );
  return out === null ? null : listenersFromSs(out);
}

/** What a pod's own namespace holds for its path out: links, addresses, routes (JSON and as printed), neighbours. */
export async function readPodInside(
  shell: NodeShell,
  node: NodeTarget,
  netns: string,
  signal: AbortSignal,
  family: Family = 4,
): Promise<PodInside> {
  try {
    // `ip -j addr` carries each link's flags and MTU too, and the route lines are rebuilt from the JSON as ip prints
    // them: three commands per pod.
    // Every family: an eth0 without an IPv4 address must still be listed.
    const [addrJson, routesJson, neighJson] = await Promise.all([
      runOk(shell, node, catalogue.ipAddr({ netns, json: true }), signal),
      runOk(shell, node, catalogue.netnsExec(netns, catalogue.ipRoute({ json: true, family })), signal),
      runOk(shell, node, catalogue.netnsExec(netns, catalogue.ipNeigh(null, { json: true, family })), signal),
    ]);
    const routes = routesFromIpJson(routesJson);
    return {
      links: linksFromIpJson(addrJson),
      addresses: addressesFromIpJson(addrJson, { ipv6: family === 6 }),
      routes,
      routeText: routes.map((r) => r.raw).join('\n'),
      neighbours: neighboursFromIpJson(neighJson),
      ...(family === 6 ? { family } : {}),
      error: null,
    };
  } catch (err) {
    return { links: [], addresses: {}, routes: [], routeText: '', neighbours: [], error: describeError(err) };
  }
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
export async function testConnect(
  shell: NodeShell,
  node: NodeTarget,
  netns: string | null,
  ip: string,
  port: number,
  signal: AbortSignal,
): Promise<{ ok: boolean; detail: string }> {
  const r = await shell.run(node, catalogue.testConnect(netns, ip, port, TEST_CONNECT_SECONDS), signal);
  if (r.stdout.includes('connected')) return { ok: true, detail: 'connected' };
  if (r.exitCode === 124 || r.timedOut) return { ok: false, detail: `no answer within ${TEST_CONNECT_SECONDS} s` };
  return { ok: false, detail: r.stderr.trim().split('\n').at(-1)?.replace(/^.*: /, '') || `exit ${r.exitCode}` };
}

// ---- kube-proxy rules ----

/**
 * kube-proxy's mode on a node: its /proxyMode answer on the node's loopback (curl, else bash's /dev/tcp), the tables
 * it wrote, and the rule counts of both iptables backends; and Calico's dataplane (its devices and tables). Each read may fail (no nft, no curl, no table): null.
 */
export async function detectModeOn(shell: NodeShell, node: NodeTarget, signal: AbortSignal): Promise<DetectedMode> {
  const quiet = (c: NodeCommand) => runOk(shell, node, c, signal).catch(() => null);
  const [nftTable, natSave, proxyMode, legacySave, nftSave, links, nftTables] = await Promise.all([
    quiet(catalogue.nftListTable('ip')),
    quiet(catalogue.iptablesSave('nat')),
    quiet(catalogue.kubeProxyMode()).then((r) =>
      r === null || r.trim() === '' ? quiet(catalogue.kubeProxyMode({ tool: 'bash' })) : r,
    ),
    quiet(catalogue.iptablesBackendSave('legacy')),
    quiet(catalogue.iptablesBackendSave('nft')),
    quiet(catalogue.ipLinks({ json: true })),
    quiet(catalogue.nftListTables()),
  ]);
  return detectKubeProxyMode({ nftTable, natSave, proxyMode, legacySave, nftSave, links, nftTables });
}

/**
 * The same detection from what `trace` has already read (its `iptables-save -c`, parsed), for showing the mode only:
 * kube-proxy's KUBE-SERVICES in the nat table tells iptables or IPVS with no command at all; without it, one
 * `nft list tables` looks for kube-proxy's nftables table. kube-proxy's /proxyMode is not asked here (nodeport does).
 */
export async function detectModeFromSave(
  shell: NodeShell,
  node: NodeTarget,
  save: IptablesSave | null,
  signal: AbortSignal,
): Promise<DetectedMode> {
  const services = save?.tables.get('nat')?.chains.get('KUBE-SERVICES');
  // What detectKubeProxyMode reads of a nat save: the chain's declaration and its rules.
  const natSave = services ? [':KUBE-SERVICES - [0:0]', ...services.rules.map((r) => r.raw)].join('\n') : null;
  const nftTables = natSave ? null : await runOk(shell, node, catalogue.nftListTables(), signal).catch(() => null);
  return detectKubeProxyMode({ nftTable: null, natSave, proxyMode: null, legacySave: null, nftSave: null, nftTables });
}

async function readDataplane(
  shell: NodeShell,
  node: NodeTarget,
  dataplane: ServiceDataplane,
  signal: AbortSignal,
  family?: 4 | 6,
): Promise<string[]> {
  const fallbacks = dataplane.fallbacks?.(family) ?? [];
  const [required, optional] = await Promise.all([
    Promise.all(
      dataplane.commands(family).map((c, i) => {
        const fallback = fallbacks[i];
        const read = runOk(shell, node, c, signal);
        // The fallback's failure is not the news: the first command's error says what is missing.
        return fallback
          ? read.catch((err: unknown) => runOk(shell, node, fallback, signal).catch(() => Promise.reject(err)))
          : read;
      }),
    ),
    Promise.all((dataplane.optionalCommands?.(family) ?? []).map((c) => runOk(shell, node, c, signal).catch(() => ''))),
  ]);
  return [...required, ...optional];
}

/** One node's kube-proxy path for a Service port; the walker is the node's detected mode unless one is given. */
export async function inspectServiceRules(
  shell: NodeShell,
  node: NodeTarget,
  kind: ServiceFacts['kind'],
  svc: ServiceInfo,
  port: number,
  signal: AbortSignal,
  given?: ServiceDataplane,
  /** kube-proxy's ConfigMap mode: the walker where the node neither answers /proxyMode nor holds any rules. */
  configuredMode: KubeProxyMode | null = null,
  /** The node's address in the Service's family, where its NodePort is reached (default: the address k8snet uses). */
  serviceAddress: string = node.address,
): Promise<NodeRuleFacts> {
  // The Service's family decides where kube-proxy wrote its rules, its NodePorts' too: an IPv6 single-stack Service's
  // only in ip6tables, whatever address the node is reached at (a dual-stack one's in both).
  const family = ipFamily(svc.clusterIP ?? node.address);
  const detected = given ? null : await detectModeOn(shell, node, signal);
  const dataplane = given ?? dataplaneFor(detected!.mode ?? configuredMode);
  const [outputs, ss, conntrackTable] = await Promise.all([
    readDataplane(shell, node, dataplane, signal, family),
    kind === 'nodeport' ? runOk(shell, node, catalogue.ssListeners(), signal).catch(() => null) : Promise.resolve(null),
    readConntrackTable(shell, node, signal),
  ]);
  const servicePort = svc.ports.find((p) => (kind === 'nodeport' ? p.nodePort === port : p.port === port));
  const protocol = servicePort ? { protocol: servicePort.protocol } : {};
  const walk = dataplane.walk(
    outputs,
    kind === 'nodeport'
      ? { nodePort: port, family, ...protocol }
      : { clusterIP: svc.clusterIP ?? '', port, family, ...protocol },
  );
  const listeners = ss === null ? null : listenersFromSs(ss).filter((l) => l.port === port);
  // A NodePort held only on 127.0.0.1 (or another address) does not listen on the node address that clients use.
  const listening = listeners === null ? null : acceptsOn(listeners, port, serviceAddress);
  return {
    name: node.name,
    // The address the Service is judged at (nodeport-ips, listeners, messages): the node's in the Service's family.
    ip: serviceAddress,
    mode: dataplane.mode,
    detected,
    rules: walk.rules,
    dnatTargets: walk.dnatTargets,
    entryRule: walk.entryRule,
    rejects: walk.rejects,
    drops: walk.drops,
    ...(walk.nodePortAddresses === undefined ? {} : { nodePortAddresses: walk.nodePortAddresses }),
    ...(walk.ipsetGaps === undefined ? {} : { ipsetGaps: walk.ipsetGaps }),
    listeners,
    listening,
    conntrackTable,
    error: null,
  };
}

/**
 * NetworkManager's and systemd-networkd's device lists, from whichever tool the node has (`which` first: absent tools
 * are not asked). A tool that fails (its daemon not running) gives no reading.
 */
export async function readInterfaceManagers(
  shell: NodeShell,
  node: NodeTarget,
  signal: AbortSignal,
): Promise<InterfaceManagerReading[]> {
  const present = await runOk(shell, node, catalogue.which(['nmcli', 'networkctl']), signal).catch(() => '');
  const has = (tool: string) => present.split('\n').some((l) => l.split(' ')[0] === tool);
  const read = async (
    tool: InterfaceManagerReading['tool'],
    cmd: NodeCommand,
    parse: (text: string) => { devices: InterfaceManagerReading['devices'] },
  ): Promise<InterfaceManagerReading[]> => {
    const out = await runOk(shell, node, cmd, signal).catch(() => null);
    return out === null ? [] : [{ tool, command: cmd.argv.join(' '), devices: parse(out).devices }];
  };
  const [nm, networkd] = await Promise.all([
    has('nmcli') ? read('NetworkManager', catalogue.nmcliDeviceStatus(), parseNmcliDeviceStatus) : [],
    has('networkctl') ? read('systemd-networkd', catalogue.networkctlList(), parseNetworkctlList) : [],
  ]);
  return [...nm, ...networkd];
}

/** nf_conntrack_count and _max; null where the module is not loaded or sysctl fails. */
async function readConntrackTable(
  shell: NodeShell,
  node: NodeTarget,
  signal: AbortSignal,
): Promise<{ count: number; max: number } | null> {
  const out = await runOk(shell, node, catalogue.sysctlNet(CONNTRACK_KEYS), signal).catch(() => null);
  if (out === null) return null;
  const values = sysctlValues(out);
  const count = values['net.netfilter.nf_conntrack_count'];
  const max = values['net.netfilter.nf_conntrack_max'];
  return count !== undefined && max !== undefined ? { count: Number(count), max: Number(max) } : null;
}

/** The conntrack entries of TCP connections to ip:port on the node (`conntrack -L`, filtered there, not here). */
export async function readConntrack(
  shell: NodeShell,
  node: NodeTarget,
  destination: { ip: string; port: number },
  signal: AbortSignal,
): Promise<ConntrackReading> {
  const cmd = catalogue.conntrackList({ protocol: 'tcp', origDst: destination.ip, origPortDst: destination.port });
  const command = cmd.argv.join(' ');
  try {
    return { command, entries: parseConntrack(await runOk(shell, node, cmd, signal)).entries, error: null };
  } catch (err) {
    return { command, entries: [], error: describeError(err) };
  }
}

/**
 * The NodePorts a node's kube-proxy rules serve (null when they could not be read), walked in the node's detected mode
 * (else the ConfigMap's), and that detection (null when the node could not be asked).
 */
export async function nodePortsOn(
  shell: NodeShell,
  node: NodeTarget,
  signal: AbortSignal,
  configuredMode: KubeProxyMode | null = null,
  /** Also read the IPv6 tables (a cluster with IPv6 Services): their NodePorts in `nodePortsV6`. */
  ipv6 = false,
): Promise<{ nodePorts: number[] | null; nodePortsV6?: number[] | null; detected: DetectedMode | null }> {
  const detected = await detectModeOn(shell, node, signal).catch(() => null);
  const dataplane = dataplaneFor(detected?.mode ?? configuredMode);
  const read = (family: 4 | 6) =>
    readDataplane(shell, node, dataplane, signal, family).then(
      (outputs) => dataplane.nodePorts(outputs),
      () => null,
    );
  const [nodePorts, nodePortsV6] = await Promise.all([read(4), ipv6 ? read(6) : Promise.resolve(undefined)]);
  return { nodePorts, ...(nodePortsV6 === undefined ? {} : { nodePortsV6 }), detected };
}

/**
 * The lab's topology file: which nodes, pods, services, namespaces (with labels), Calico IP pools and network
 * policies (YAML files applied through the lab API server at `lab up`) the lab builds.
 * Loading validates everything up front, with messages that name the offending field, so `lab up`
 * never half-builds a lab from a bad file.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { InvalidInputError } from '../errors.ts';
import {
  validateCidr,
  validateDnsLabel,
  validateInterfaceName,
  validateIntegerInRange,
  validateIp,
  validateNodeName,
  validatePodName,
  validatePort,
  validateServiceName,
} from '../validate.ts';
import { cidrsOverlap, parseIpv4Cidr } from '../net/ipv4.ts';
import { parseIpv6Cidr } from '../net/ipv6.ts';

export const DEFAULT_TOPOLOGY_PATH = fileURLToPath(new URL('./topologies/default.yaml', import.meta.url));

export type EncapsulationMode = 'Always' | 'CrossSubnet' | 'Never';
export type ServiceType = 'ClusterIP' | 'NodePort';
export type PortProtocol = 'TCP' | 'UDP';
/** The kube-proxy mode whose rules the lab writes on every node (kube-proxy's --proxy-mode). */
export type LabKubeProxyMode = 'iptables' | 'nftables';
export const LAB_KUBE_PROXY_MODES: readonly LabKubeProxyMode[] = ['iptables', 'nftables'];

export interface TopologyNode {
  name: string;
  /**
   * The projectcalico.org/IPv4Address annotation the lab API server publishes for this node (default: the node's
   * own address): set it to another address to play Calico's autodetection picking the wrong interface.
   */
  calicoIPv4Address?: string;
}

/** How pod traffic crosses nodes: Felix's VXLAN/IP-in-IP routes (`vxlan`), or BIRD peering in a full mesh (`bgp`). */
export type LabRouting = 'vxlan' | 'bgp';
export const LAB_ROUTINGS: readonly LabRouting[] = ['vxlan', 'bgp'];

export interface TopologyIpPool {
  name: string;
  cidr: string;
  /** Prefix length of the per-node IPAM blocks (Calico's default is 26). */
  blockSize: number;
  vxlanMode: EncapsulationMode;
  ipipMode: EncapsulationMode;
  natOutgoing: boolean;
}

export interface TopologyContainer {
  name: string;
  /** TCP ports the container listens on inside the pod's network namespace. */
  ports: number[];
  /** Ports written as `{ port, name }`: the containerPort's name, for named ports in network policies. */
  namedPorts: { name: string; port: number }[];
}

export interface TopologyPod {
  name: string;
  namespace: string;
  node: string;
  labels: Record<string, string>;
  containers: TopologyContainer[];
}

export interface TopologyServicePort {
  name: string;
  port: number;
  targetPort: number;
  nodePort?: number;
  protocol: PortProtocol;
}

export interface TopologyService {
  name: string;
  namespace: string;
  type: ServiceType;
  /**
   * `ipFamily: IPv6` makes a single-stack IPv6 Service, `ipFamilies: [IPv4, IPv6]` a dual-stack one (a ClusterIP of
   * each family, IPv4 first; a dual-stack lab only); absent: IPv4.
   */
  ipFamily?: 'IPv6' | 'DualStack';
  selector: Record<string, string>;
  ports: TopologyServicePort[];
}

export interface TopologyNamespace {
  name: string;
  /** Extra labels; every namespace also carries kubernetes.io/metadata.name (the API server sets it). */
  labels: Record<string, string>;
}

/** The policy kinds a topology's networkPolicies files may hold (apiVersion → kinds). */
export const TOPOLOGY_POLICY_KINDS: Readonly<Record<string, readonly string[]>> = {
  'networking.k8s.io/v1': ['NetworkPolicy'],
  'crd.projectcalico.org/v1': ['NetworkPolicy', 'GlobalNetworkPolicy', 'Tier'],
  'projectcalico.org/v3': ['NetworkPolicy', 'GlobalNetworkPolicy', 'Tier'],
};

/** One YAML document of a networkPolicies file: checked for kind and name here, fully by the API server. */
export interface TopologyPolicyDocument {
  /** The file (absolute) and the document's index in it, for messages. */
  source: string;
  object: Record<string, unknown> & {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
  };
}

/** What the lab's kube-system tells Calico and the controller manager (to misconfigure on purpose). */
export interface TopologyClusterConfig {
  /** calico-config's veth_mtu; absent: the MTU the lab gives pod and tunnel interfaces (a correct setting). */
  vethMtu?: number;
  /** kube-controller-manager's --cluster-cidr; absent: the IP pool's CIDR. */
  clusterCIDR?: string;
}

export interface Topology {
  /** `clusterConfig:` — kube-system's Calico and controller-manager settings (default: consistent with the lab). */
  clusterConfig?: TopologyClusterConfig;
  /** Cross-node routing (default vxlan: routes written as Felix writes them; bgp: a real BIRD 2 per node). */
  routing: LabRouting;
  /** kube-proxy's mode on the lab's nodes (default iptables). */
  kubeProxy: LabKubeProxyMode;
  /** Lab node subnet; when absent, `lab up` picks one that no host route overlaps. */
  nodeSubnet?: string;
  /** The name of every node's uplink, the interface holding the node's address (`nodeUplink:`; default eth0). */
  nodeUplink: string;
  serviceCIDR: string;
  /** The IPv6 Service range, present when a Service is IPv6 (`serviceCIDRv6:`; default fd00:10:96::/112). */
  serviceCIDRv6?: string;
  ipPools: TopologyIpPool[];
  nodes: TopologyNode[];
  pods: TopologyPod[];
  services: TopologyService[];
  /** Namespaces declared with labels (pods' and services' namespaces exist without being declared). */
  namespaces: TopologyNamespace[];
  /** `networkPolicies:` entries as written: file paths relative to the topology file. */
  networkPolicies: string[];
  /** The documents of those files (filled by loadTopology, which knows where the topology file is). */
  policyDocuments: TopologyPolicyDocument[];
}

/** The node uplink's name when a topology does not give one: what most clouds' and kind's nodes call it. */
export const DEFAULT_NODE_UPLINK = 'eth0';
/** Kubernetes' default --service-node-port-range. */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;
/** Label keys and values as Kubernetes allows them (value: at most 63 characters, may be empty). */
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

type Raw = Record<string, unknown>;

function asObject(field: string, value: unknown): Raw {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InvalidInputError(field, 'must be a mapping');
  return value as Raw;
}

function asArray(field: string, value: unknown, required = true): unknown[] {
  if (value === undefined && !required) return [];
  if (!Array.isArray(value)) throw new InvalidInputError(field, 'must be a list');
  return value;
}

function asLabels(field: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObject(field, value))) {
    const text = String(v);
    if (!LABEL_KEY.test(k)) throw new InvalidInputError(`${field}.${k}`, 'is not a valid label key');
    if (!LABEL_VALUE.test(text))
      throw new InvalidInputError(`${field}.${k}`, `${JSON.stringify(text)} is not a valid label value`);
    labels[k] = text;
  }
  return labels;
}

function asMode(field: string, value: unknown, fallback: EncapsulationMode): EncapsulationMode {
  if (value === undefined) return fallback;
  if (value === 'Always' || value === 'CrossSubnet' || value === 'Never') return value;
  throw new InvalidInputError(field, `${JSON.stringify(value)} must be Always, CrossSubnet or Never`);
}

function unique(field: string, names: string[]): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new InvalidInputError(field, `${JSON.stringify(n)} appears twice`);
    seen.add(n);
  }
}

function parsePool(raw: unknown, i: number): TopologyIpPool {
  const field = `ipPools[${i}]`;
  const o = asObject(field, raw);
  const cidr = validateCidr(o.cidr, `${field}.cidr`);
  const v6 = cidr.includes(':');
  if (v6) parseIpv6Cidr(cidr);
  else parseIpv4Cidr(cidr);
  // Calico's default block sizes: /26 for IPv4, /122 for IPv6 (IPPool spec.blockSize).
  const blockSize =
    o.blockSize === undefined
      ? v6
        ? 122
        : 26
      : v6
        ? validateIntegerInRange(`${field}.blockSize`, o.blockSize, 116, 128)
        : validateIntegerInRange(`${field}.blockSize`, o.blockSize, 20, 32);
  const pool: TopologyIpPool = {
    name: validateDnsLabel(`${field}.name`, o.name),
    cidr,
    blockSize,
    vxlanMode: asMode(`${field}.vxlanMode`, o.vxlanMode, 'Always'),
    ipipMode: asMode(`${field}.ipipMode`, o.ipipMode, 'Never'),
    natOutgoing: o.natOutgoing === undefined ? true : Boolean(o.natOutgoing),
  };
  if (pool.vxlanMode !== 'Never' && pool.ipipMode !== 'Never') {
    throw new InvalidInputError(field, 'vxlanMode and ipipMode cannot both be enabled (Calico refuses such a pool)');
  }
  if (v6 && pool.ipipMode !== 'Never')
    throw new InvalidInputError(field, 'IP-in-IP carries IPv4 only: an IPv6 pool needs ipipMode: Never');
  return pool;
}

/** A containerPort name is an IANA_SVC_NAME: at most 15 characters (k8s.io/apimachinery validation IsValidPortName). */
const CONTAINER_PORT_NAME_MAX = 15;

function parsePod(raw: unknown, i: number, nodeNames: Set<string>): TopologyPod {
  const field = `pods[${i}]`;
  const o = asObject(field, raw);
  const node = validateNodeName(o.node, `${field}.node`);
  if (!nodeNames.has(node))
    throw new InvalidInputError(`${field}.node`, `${JSON.stringify(node)} is not a node of this topology`);
  const containers = asArray(`${field}.containers`, o.containers).map((c, j) => {
    const co = asObject(`${field}.containers[${j}]`, c);
    const namedPorts: { name: string; port: number }[] = [];
    // A port is a number, or { port, name } for a named containerPort (IANA_SVC_NAME: a DNS label of at most 15).
    const ports = asArray(`${field}.containers[${j}].ports`, co.ports, false).map((p, k) => {
      const f = `${field}.containers[${j}].ports[${k}]`;
      if (typeof p !== 'object' || p === null) return validatePort(p, f);
      const po = asObject(f, p);
      const port = validatePort(po.port, `${f}.port`);
      const name = validateDnsLabel(`${f}.name`, po.name);
      if (name.length > CONTAINER_PORT_NAME_MAX || !/[a-z]/.test(name))
        throw new InvalidInputError(`${f}.name`, `must be at most ${CONTAINER_PORT_NAME_MAX} characters with a letter`);
      namedPorts.push({ name, port });
      return port;
    });
    return { name: validateDnsLabel(`${field}.containers[${j}].name`, co.name), ports, namedPorts };
  });
  if (containers.length === 0) throw new InvalidInputError(`${field}.containers`, 'needs at least one container');
  unique(
    `${field}.containers`,
    containers.map((c) => c.name),
  );
  unique(
    `${field} ports`,
    containers.flatMap((c) => c.ports.map(String)),
  );
  return {
    name: validatePodName(o.name, `${field}.name`),
    namespace: o.namespace === undefined ? 'default' : validateDnsLabel(`${field}.namespace`, o.namespace),
    node,
    labels: asLabels(`${field}.labels`, o.labels),
    containers,
  };
}

function parseService(raw: unknown, i: number): TopologyService {
  const field = `services[${i}]`;
  const o = asObject(field, raw);
  const type = o.type ?? 'ClusterIP';
  if (type !== 'ClusterIP' && type !== 'NodePort')
    throw new InvalidInputError(`${field}.type`, 'must be ClusterIP or NodePort');
  const ports = asArray(`${field}.ports`, o.ports).map((p, j): TopologyServicePort => {
    const f = `${field}.ports[${j}]`;
    const po = asObject(f, p);
    const port = validatePort(po.port, `${f}.port`);
    const protocol = po.protocol ?? 'TCP';
    if (protocol !== 'TCP' && protocol !== 'UDP') throw new InvalidInputError(`${f}.protocol`, 'must be TCP or UDP');
    const nodePort =
      po.nodePort === undefined
        ? undefined
        : validateIntegerInRange(`${f}.nodePort`, po.nodePort, NODE_PORT_RANGE.min, NODE_PORT_RANGE.max);
    if (type === 'NodePort' && nodePort === undefined)
      throw new InvalidInputError(`${f}.nodePort`, 'is required for a NodePort service in the lab');
    return {
      name: po.name === undefined ? `p${port}` : validateDnsLabel(`${f}.name`, po.name),
      port,
      targetPort: po.targetPort === undefined ? port : validatePort(po.targetPort, `${f}.targetPort`),
      ...(nodePort === undefined ? {} : { nodePort }),
      protocol,
    };
  });
  if (ports.length === 0) throw new InvalidInputError(`${field}.ports`, 'needs at least one port');
  return {
    name: validateServiceName(o.name, `${field}.name`),
    namespace: o.namespace === undefined ? 'default' : validateDnsLabel(`${field}.namespace`, o.namespace),
    type,
    ...serviceFamily(o, field),
    selector: asLabels(`${field}.selector`, o.selector),
    ports,
  };
}

/** `ipFamily: IPv6`, or `ipFamilies: [IPv4, IPv6]` (Kubernetes' spelling, primary first) for dual-stack. */
function serviceFamily(o: Record<string, unknown>, field: string): { ipFamily?: 'IPv6' | 'DualStack' } {
  if (o.ipFamilies !== undefined) {
    if (o.ipFamily !== undefined)
      throw new InvalidInputError(`${field}.ipFamily`, 'give ipFamily or ipFamilies, not both');
    const list = Array.isArray(o.ipFamilies) ? o.ipFamilies : null;
    if (list?.length === 2 && list[0] === 'IPv4' && list[1] === 'IPv6') return { ipFamily: 'DualStack' };
    if (list?.length === 1) return ipFamilyOf(list[0], `${field}.ipFamilies[0]`) === 'IPv6' ? { ipFamily: 'IPv6' } : {};
    throw new InvalidInputError(
      `${field}.ipFamilies`,
      "must be [IPv4], [IPv6] or [IPv4, IPv6] (the lab's dual-stack Services are IPv4-primary)",
    );
  }
  return ipFamilyOf(o.ipFamily, `${field}.ipFamily`) === 'IPv6' ? { ipFamily: 'IPv6' } : {};
}

function ipFamilyOf(value: unknown, field: string): 'IPv4' | 'IPv6' {
  if (value === undefined || value === 'IPv4') return 'IPv4';
  if (value === 'IPv6') return 'IPv6';
  throw new InvalidInputError(field, 'must be IPv4 or IPv6');
}

/** kube-apiserver's IPv6 Service range in kind's and most dual-stack examples' shape. */
export const DEFAULT_SERVICE_CIDR_V6 = 'fd00:10:96::/112';

/** Validates a parsed YAML document into a Topology. */
export function parseTopology(doc: unknown): Topology {
  const o = asObject('topology', doc);
  const nodes = asArray('nodes', o.nodes).map((n, i): TopologyNode => {
    const no = asObject(`nodes[${i}]`, n);
    const name = validateNodeName(no.name, `nodes[${i}].name`);
    if (no.calicoIPv4Address === undefined) return { name };
    const address = validateCidr(no.calicoIPv4Address, `nodes[${i}].calicoIPv4Address`);
    validateIp(address.split('/')[0], `nodes[${i}].calicoIPv4Address`);
    return { name, calicoIPv4Address: address };
  });
  if (nodes.length === 0) throw new InvalidInputError('nodes', 'needs at least one node');
  unique(
    'nodes',
    nodes.map((n) => n.name),
  );
  const nodeNames = new Set(nodes.map((n) => n.name));

  const ipPools = asArray('ipPools', o.ipPools).map(parsePool);
  // One IPv4 pool, and for a dual-stack lab one IPv6 pool after it.
  if (
    ipPools.length < 1 ||
    ipPools.length > 2 ||
    ipPools[0]!.cidr.includes(':') ||
    (ipPools[1] && !ipPools[1].cidr.includes(':'))
  )
    throw new InvalidInputError(
      'ipPools',
      'the lab takes one IPv4 pool, optionally followed by one IPv6 pool (dual stack)',
    );
  const serviceCIDR = o.serviceCIDR === undefined ? '10.96.0.0/16' : validateCidr(o.serviceCIDR, 'serviceCIDR');
  if (cidrsOverlap(parseIpv4Cidr(serviceCIDR), parseIpv4Cidr(ipPools[0]!.cidr)))
    throw new InvalidInputError('serviceCIDR', 'overlaps the IP pool');

  const pods = asArray('pods', o.pods, false).map((p, i) => parsePod(p, i, nodeNames));
  unique(
    'pods',
    pods.map((p) => `${p.namespace}/${p.name}`),
  );
  const services = asArray('services', o.services, false).map(parseService);
  unique(
    'services',
    services.map((s) => `${s.namespace}/${s.name}`),
  );
  unique(
    'nodePorts',
    services.flatMap((s) => s.ports.flatMap((p) => (p.nodePort === undefined ? [] : [String(p.nodePort)]))),
  );
  const ipv6Service = services.find((s) => s.ipFamily !== undefined);
  if (ipv6Service && !ipPools[1])
    throw new InvalidInputError(
      `services ${ipv6Service.name}`,
      'an IPv6 or dual-stack Service needs the IPv6 pool of a dual-stack lab',
    );
  if (ipv6Service && o.kubeProxy === 'ipvs')
    throw new InvalidInputError(
      `services ${ipv6Service.name}`,
      "the lab's IPv6 Services are written for kube-proxy's iptables and nftables modes only",
    );
  const serviceCIDRv6 =
    o.serviceCIDRv6 === undefined ? DEFAULT_SERVICE_CIDR_V6 : validateCidr(o.serviceCIDRv6, 'serviceCIDRv6');
  if (!serviceCIDRv6.includes(':')) throw new InvalidInputError('serviceCIDRv6', 'must be an IPv6 CIDR');

  const namespaces = asArray('namespaces', o.namespaces, false).map((n, i): TopologyNamespace => {
    const no = asObject(`namespaces[${i}]`, n);
    return {
      name: validateDnsLabel(`namespaces[${i}].name`, no.name),
      labels: asLabels(`namespaces[${i}].labels`, no.labels),
    };
  });
  unique(
    'namespaces',
    namespaces.map((n) => n.name),
  );
  const networkPolicies = asArray('networkPolicies', o.networkPolicies, false).map((p, i) => {
    if (typeof p !== 'string' || p.trim() === '')
      throw new InvalidInputError(`networkPolicies[${i}]`, 'must be a file path (relative to the topology file)');
    return p;
  });

  const kubeProxy = o.kubeProxy === undefined ? 'iptables' : o.kubeProxy;
  if (!(LAB_KUBE_PROXY_MODES as readonly unknown[]).includes(kubeProxy))
    throw new InvalidInputError(
      'kubeProxy',
      `${JSON.stringify(kubeProxy)} must be ${LAB_KUBE_PROXY_MODES.join(' or ')}`,
    );

  const routing = o.routing === undefined ? 'vxlan' : o.routing;
  if (!(LAB_ROUTINGS as readonly unknown[]).includes(routing))
    throw new InvalidInputError('routing', `${JSON.stringify(routing)} must be ${LAB_ROUTINGS.join(' or ')}`);
  // A dual-stack lab carries both families the same way: in VXLAN, or unencapsulated on BIRD's routes (bird and bird6).
  const v6Pool = ipPools[1];
  if (v6Pool && routing === 'vxlan' && (v6Pool.vxlanMode === 'Never' || ipPools[0]!.vxlanMode === 'Never'))
    throw new InvalidInputError(
      'ipPools',
      'a dual-stack lab carries both families in VXLAN (both pools need vxlanMode) or, with routing: bgp, neither',
    );
  if (v6Pool && routing === 'bgp' && v6Pool.vxlanMode !== 'Never')
    throw new InvalidInputError(
      'ipPools',
      'with routing: bgp the IPv6 pool is routed unencapsulated too: it needs vxlanMode: Never',
    );
  if (routing === 'bgp' && (ipPools[0]!.vxlanMode !== 'Never' || ipPools[0]!.ipipMode !== 'Never')) {
    throw new InvalidInputError(
      'routing',
      'bgp routes pod traffic unencapsulated: the IP pool needs vxlanMode: Never and ipipMode: Never',
    );
  }
  const clusterConfig: TopologyClusterConfig = {};
  if (o.clusterConfig !== undefined) {
    const cc = asObject('clusterConfig', o.clusterConfig);
    // 68: the IPv4 minimum (RFC 791); 9000: jumbo frames, more than any Calico deployment's links.
    if (cc.vethMtu !== undefined)
      clusterConfig.vethMtu = validateIntegerInRange('clusterConfig.vethMtu', cc.vethMtu, 68, 9000);
    if (cc.clusterCIDR !== undefined)
      clusterConfig.clusterCIDR = validateCidr(cc.clusterCIDR, 'clusterConfig.clusterCIDR');
  }

  let nodeSubnet: string | undefined;
  if (o.nodeSubnet !== undefined) {
    nodeSubnet = validateCidr(o.nodeSubnet, 'nodeSubnet');
    validateIp(nodeSubnet.split('/')[0], 'nodeSubnet');
  }
  const nodeUplink =
    o.nodeUplink === undefined ? DEFAULT_NODE_UPLINK : validateInterfaceName(o.nodeUplink, 'nodeUplink');
  return {
    ...(nodeSubnet === undefined ? {} : { nodeSubnet }),
    nodeUplink,
    clusterConfig,
    routing: routing as LabRouting,
    kubeProxy: kubeProxy as LabKubeProxyMode,
    serviceCIDR,
    ...(ipv6Service ? { serviceCIDRv6 } : {}),
    ipPools,
    nodes,
    pods,
    services,
    namespaces,
    networkPolicies,
    policyDocuments: [],
  };
}

/** Checks each document of a networkPolicies file: a supported apiVersion/kind and a metadata.name. */
export function parsePolicyDocuments(
  field: string,
  path: string,
  text: string,
  knownNamespaces: Set<string>,
): TopologyPolicyDocument[] {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new InvalidInputError(field, `${path} is not valid YAML`);
  return docs.flatMap((doc, i) => {
    if (doc.errors.length > 0)
      throw new InvalidInputError(field, `${path} document ${i + 1} is not valid YAML: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return []; // an empty document (a trailing ---)
    const where = `${field} (${path} document ${i + 1})`;
    const o = asObject(where, value);
    const kinds = typeof o.apiVersion === 'string' ? TOPOLOGY_POLICY_KINDS[o.apiVersion] : undefined;
    if (!kinds || typeof o.kind !== 'string' || !kinds.includes(o.kind)) {
      throw new InvalidInputError(
        where,
        `${String(o.apiVersion)} ${String(o.kind)} is not a policy kind the lab serves (${Object.entries(
          TOPOLOGY_POLICY_KINDS,
        )
          .map(([v, k]) => `${v} ${k.join('/')}`)
          .join(', ')})`,
      );
    }
    const metadata = asObject(`${where}.metadata`, o.metadata);
    if (typeof metadata.name !== 'string' || metadata.name === '')
      throw new InvalidInputError(`${where}.metadata.name`, 'is required');
    const namespaced = o.kind === 'NetworkPolicy';
    const namespace = metadata.namespace === undefined ? 'default' : String(metadata.namespace);
    if (namespaced && !knownNamespaces.has(namespace))
      throw new InvalidInputError(
        `${where}.metadata.namespace`,
        `${JSON.stringify(namespace)} is not a namespace of this topology`,
      );
    const object = {
      ...o,
      metadata: { ...metadata, ...(namespaced ? { namespace } : {}) },
    } as TopologyPolicyDocument['object'];
    return [{ source: `${path}#${i + 1}`, object }];
  });
}

/** Namespaces a lab has: the cluster's own four plus every declared one and every pod's and service's. */
export function topologyNamespaces(topology: Pick<Topology, 'namespaces' | 'pods' | 'services'>): Set<string> {
  return new Set([
    'default',
    'kube-node-lease',
    'kube-public',
    'kube-system',
    ...topology.namespaces.map((n) => n.name),
    ...topology.pods.map((p) => p.namespace),
    ...topology.services.map((s) => s.namespace),
  ]);
}

export async function loadTopology(path: string = DEFAULT_TOPOLOGY_PATH): Promise<Topology> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InvalidInputError('topology', `cannot read ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InvalidInputError('topology', `${path} is not valid YAML: ${(err as Error).message}`);
  }
  const topology = parseTopology(doc);
  const namespaces = topologyNamespaces(topology);
  const policyDocuments: TopologyPolicyDocument[] = [];
  for (const [i, relative] of topology.networkPolicies.entries()) {
    const file = resolve(dirname(path), relative);
    let policyText: string;
    try {
      policyText = await readFile(file, 'utf8');
    } catch (err) {
      throw new InvalidInputError(`networkPolicies[${i}]`, `cannot read ${file}: ${(err as Error).message}`);
    }
    policyDocuments.push(...parsePolicyDocuments(`networkPolicies[${i}]`, file, policyText, namespaces));
  }
  return { ...topology, policyDocuments };
}

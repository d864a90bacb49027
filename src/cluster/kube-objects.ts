/**
 * Kubernetes API objects → our own types (src/cluster/types.ts). Pure and total: a field the API left out becomes
 * null / [] / a documented default, never an exception, so one odd object cannot break a whole listing.
 */
import type {
  CoreV1EndpointPort,
  DiscoveryV1EndpointPort,
  V1EndpointSlice,
  V1Endpoints,
  V1Namespace,
  V1Node,
  V1Pod,
  V1Service,
} from '@kubernetes/client-node';
import type {
  ContainerInfo,
  EncapsulationSetting,
  EndpointInfo,
  IpPoolInfo,
  CalicoNodeInfo,
  NamespaceInfo,
  NodeInfo,
  PodInfo,
  ServiceInfo,
} from './types.ts';

/** Calico's node annotations (calico/node writes them; libcalico-go pkg/names). */
export const CALICO_ANNOTATIONS = {
  vxlanTunnelAddr: 'projectcalico.org/IPv4VXLANTunnelAddr',
  vxlanTunnelAddrV6: 'projectcalico.org/IPv6VXLANTunnelAddr',
  ipipTunnelAddr: 'projectcalico.org/IPv4IPIPTunnelAddr',
  ipv4Address: 'projectcalico.org/IPv4Address',
  ipv6Address: 'projectcalico.org/IPv6Address',
} as const;

/** The label EndpointSlices carry to name their Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Calico's default IPv4 block size when an IPPool leaves spec.blockSize out. */
const CALICO_DEFAULT_IPV4_BLOCK_SIZE = 26;
const CALICO_DEFAULT_IPV6_BLOCK_SIZE = 122;

export function toNodeInfo(node: V1Node): NodeInfo {
  const addresses = (node.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address }));
  const annotations = node.metadata?.annotations ?? {};
  const podCIDRs = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
  return {
    name: node.metadata?.name ?? '',
    internalIP: addresses.find((a) => a.type === 'InternalIP')?.address ?? null,
    addresses,
    podCIDRs,
    vxlanTunnelIP: annotations[CALICO_ANNOTATIONS.vxlanTunnelAddr] ?? null,
    ...(annotations[CALICO_ANNOTATIONS.vxlanTunnelAddrV6]
      ? { vxlanTunnelIPv6: annotations[CALICO_ANNOTATIONS.vxlanTunnelAddrV6] }
      : {}),
    ipipTunnelIP: annotations[CALICO_ANNOTATIONS.ipipTunnelAddr] ?? null,
    ready: node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    labels: node.metadata?.labels ?? {},
    calicoIPv4Address: annotations[CALICO_ANNOTATIONS.ipv4Address]?.split('/')[0] || null,
    calicoIPv6Address: annotations[CALICO_ANNOTATIONS.ipv6Address]?.split('/')[0] || null,
  };
}

export function toPodInfo(pod: V1Pod): PodInfo {
  const statuses = new Map((pod.status?.containerStatuses ?? []).map((s) => [s.name, s]));
  const containers: ContainerInfo[] = (pod.spec?.containers ?? []).map((c) => {
    const s = statuses.get(c.name);
    return {
      name: c.name,
      containerID: s?.containerID || null,
      image: c.image ?? s?.image ?? '',
      ready: s?.ready ?? false,
      restartCount: s?.restartCount ?? 0,
      ports: (c.ports ?? []).map((p) => ({
        containerPort: p.containerPort,
        protocol: p.protocol ?? 'TCP',
        ...(p.name ? { name: p.name } : {}),
      })),
    };
  });
  const podIP = pod.status?.podIP || null;
  const podIPs = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => Boolean(ip));
  return {
    name: pod.metadata?.name ?? '',
    namespace: pod.metadata?.namespace ?? 'default',
    uid: pod.metadata?.uid ?? '',
    nodeName: pod.spec?.nodeName || null,
    podIP,
    podIPs: podIPs.length > 0 ? podIPs : podIP ? [podIP] : [],
    hostIP: pod.status?.hostIP || null,
    phase: pod.status?.phase ?? 'Unknown',
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    hostNetwork: pod.spec?.hostNetwork ?? false,
    serviceAccount: pod.spec?.serviceAccountName || null,
    labels: pod.metadata?.labels ?? {},
    containers,
  };
}

export function toServiceInfo(svc: V1Service): ServiceInfo {
  const clusterIP = svc.spec?.clusterIP && svc.spec.clusterIP !== 'None' ? svc.spec.clusterIP : null;
  return {
    name: svc.metadata?.name ?? '',
    namespace: svc.metadata?.namespace ?? 'default',
    type: svc.spec?.type ?? 'ClusterIP',
    clusterIP,
    clusterIPs: (svc.spec?.clusterIPs ?? (clusterIP ? [clusterIP] : [])).filter((ip) => ip !== 'None'),
    selector: svc.spec?.selector ?? {},
    ports: (svc.spec?.ports ?? []).map((p) => ({
      name: p.name || null,
      protocol: p.protocol ?? 'TCP',
      port: p.port,
      // The API defaults targetPort to port; a named port stays a string (resolved per pod).
      targetPort: p.targetPort ?? p.port,
      nodePort: p.nodePort ?? null,
    })),
    externalTrafficPolicy: svc.spec?.externalTrafficPolicy ?? null,
  };
}

function toPorts(ports: (CoreV1EndpointPort | DiscoveryV1EndpointPort)[] | undefined): EndpointInfo['ports'] {
  return (ports ?? []).flatMap((p) =>
    p.port === undefined ? [] : [{ name: p.name || null, port: p.port, protocol: p.protocol ?? 'TCP' }],
  );
}

function podRef(
  ref: { kind?: string; name?: string; namespace?: string } | undefined,
  fallbackNamespace: string,
): EndpointInfo['pod'] {
  return ref?.kind === 'Pod' && ref.name ? { name: ref.name, namespace: ref.namespace ?? fallbackNamespace } : null;
}

/** One EndpointInfo per address of every slice; an address seen in two slices (during a resync) once. */
export function endpointsFromSlices(slices: V1EndpointSlice[]): EndpointInfo[] {
  const seen = new Set<string>();
  const out: EndpointInfo[] = [];
  for (const slice of slices) {
    const ports = toPorts(slice.ports);
    const namespace = slice.metadata?.namespace ?? 'default';
    for (const e of slice.endpoints ?? []) {
      for (const ip of e.addresses ?? []) {
        if (seen.has(ip)) continue;
        seen.add(ip);
        // discovery.k8s.io/v1: a nil `ready` is to be read as ready.
        out.push({
          ip,
          ready: e.conditions?.ready ?? true,
          nodeName: e.nodeName ?? null,
          pod: podRef(e.targetRef, namespace),
          ports,
        });
      }
    }
  }
  return out;
}

export function endpointsFromV1(endpoints: V1Endpoints): EndpointInfo[] {
  const namespace = endpoints.metadata?.namespace ?? 'default';
  return (endpoints.subsets ?? []).flatMap((subset) => {
    const ports = toPorts(subset.ports);
    const map =
      (ready: boolean) =>
      (a: { ip: string; nodeName?: string; targetRef?: { kind?: string; name?: string; namespace?: string } }) => ({
        ip: a.ip,
        ready,
        nodeName: a.nodeName ?? null,
        pod: podRef(a.targetRef, namespace),
        ports,
      });
    return [...(subset.addresses ?? []).map(map(true)), ...(subset.notReadyAddresses ?? []).map(map(false))];
  });
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function encapsulation(value: unknown): EncapsulationSetting | null {
  return value === 'Always' || value === 'CrossSubnet' || value === 'Never' ? value : null;
}

/** Calico v1 pools before 3.x used `ipip: {enabled, mode: always|cross-subnet}`. */
function legacyIpipMode(spec: Record<string, unknown>): EncapsulationSetting {
  const ipip = asRecord(spec.ipip);
  if (ipip.enabled !== true) return 'Never';
  return ipip.mode === 'cross-subnet' ? 'CrossSubnet' : 'Always';
}

/**
 * A Calico IPPool (crd.projectcalico.org/v1 or projectcalico.org/v3: same spec) from a custom-object list item;
 * null when it has no CIDR (not a pool we can reason about).
 */
export function toIpPoolInfo(item: unknown, apiVersion: string): IpPoolInfo | null {
  const o = asRecord(item);
  const spec = asRecord(o.spec);
  const cidr = typeof spec.cidr === 'string' ? spec.cidr : null;
  if (cidr === null) return null;
  const blockSize =
    typeof spec.blockSize === 'number'
      ? spec.blockSize
      : cidr.includes(':')
        ? CALICO_DEFAULT_IPV6_BLOCK_SIZE
        : CALICO_DEFAULT_IPV4_BLOCK_SIZE;
  const name = asRecord(o.metadata).name;
  return {
    name: typeof name === 'string' ? name : cidr,
    cidr,
    blockSize,
    ipipMode: encapsulation(spec.ipipMode) ?? legacyIpipMode(spec),
    vxlanMode: encapsulation(spec.vxlanMode) ?? 'Never',
    natOutgoing: spec.natOutgoing === true,
    disabled: spec.disabled === true,
    apiVersion,
  };
}

export function toIpPoolList(list: unknown, apiVersion: string): IpPoolInfo[] {
  const items = asRecord(list).items;
  return (Array.isArray(items) ? items : []).flatMap((item) => {
    const pool = toIpPoolInfo(item, apiVersion);
    return pool ? [pool] : [];
  });
}

/** Calico Nodes (projectcalico.org/v3) from a list answer; items without a name are skipped. */
export function toCalicoNodeList(list: unknown): CalicoNodeInfo[] {
  const items = asRecord(list).items;
  return (Array.isArray(items) ? items : []).flatMap((item) => {
    const o = asRecord(item);
    const name = asRecord(o.metadata).name;
    if (typeof name !== 'string') return [];
    const bgp = asRecord(asRecord(o.spec).bgp);
    const address = (a: unknown) => (typeof a === 'string' && a !== '' ? a : null);
    return [{ name, bgpIPv4Address: address(bgp.ipv4Address), bgpIPv6Address: address(bgp.ipv6Address) }];
  });
}

/** A list answer's items with the list's apiVersion and each item's kind set (lists omit them per item). */
export function itemsWithKind(list: unknown, apiVersion: string, kind: string): unknown[] {
  const items = asRecord(list).items;
  return (Array.isArray(items) ? items : []).map((item) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? { ...(item as Record<string, unknown>), apiVersion, kind }
      : item,
  );
}

export function toNamespaceInfo(ns: V1Namespace): NamespaceInfo {
  return { name: ns.metadata?.name ?? '', labels: { ...(ns.metadata?.labels ?? {}) } };
}

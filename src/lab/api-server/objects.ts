/**
 * The lab's Kubernetes objects, built from a LabPlan as a real cluster running Calico (VXLAN or IP-in-IP) and
 * containerd would serve them: Nodes with Calico's address annotations, Pods with containerd ids, Services,
 * Endpoints, EndpointSlices, Namespaces, crd.projectcalico.org/v1 IPPools and the IPPool CRD. Pure: the same plan,
 * time and overrides always give the same objects.
 */
import { createHash } from 'node:crypto';
import type { LabPlan, PlannedIpPool, PlannedNode, PlannedPod, PlannedService } from '../plan.ts';
import type { PolicyStore } from './policy-store.ts';
import { CALICO_CRD_PREFIX, inlineSchema } from './policy-schemas.ts';

/** A Kubernetes object as JSON. */
export type KubeObject = Record<string, unknown> & { metadata: ObjectMeta };

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  generateName?: string;
  generation?: number;
  ownerReferences?: Record<string, unknown>[];
}

/** What the lab may change at run time without rebuilding (read from `<stateDir>/overrides.json`). */
export interface PodOverride {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  ready?: boolean;
}

export interface LabOverrides {
  /** Keyed "namespace/name". */
  pods?: Record<string, PodOverride>;
}

export interface ObjectContext {
  plan: LabPlan;
  /** When the lab came up: creationTimestamp of every object, startedAt of every container. */
  createdAt: Date;
  /** The machine's kernel (nodes share it): status.nodeInfo.kernelVersion. */
  kernelVersion: string;
  overrides?: LabOverrides;
  /** Policies written through the API server; absent: none (a read-only server). */
  policies?: PolicyStore;
}

/** Versions a current kubeadm cluster reports; nothing in k8snet depends on them. */
export const LAB_KUBELET_VERSION = 'v1.32.4';
export const LAB_CONTAINERD_VERSION = 'containerd://1.7.24';
export const LAB_OS_IMAGE = 'Ubuntu 24.04.2 LTS';
export const NAMESPACES_OF_A_CLUSTER = ['default', 'kube-node-lease', 'kube-public', 'kube-system'];
export const CALICO_GROUP = 'crd.projectcalico.org';
/** The group Calico's API server (and Calico 3.32's native CRDs) serves. */
export const CALICO_V3_GROUP = 'projectcalico.org';

function hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A stable resourceVersion per object (etcd revisions are opaque integers to clients). */
function resourceVersion(seed: string): string {
  return String(1000 + (parseInt(hex(seed).slice(0, 6), 16) % 900_000));
}

function meta(
  ctx: ObjectContext,
  kind: string,
  fields: Omit<ObjectMeta, 'resourceVersion' | 'creationTimestamp' | 'uid'> & { uid?: string },
): ObjectMeta {
  const seed = `${ctx.plan.lab}/${kind}/${fields.namespace ?? ''}/${fields.name}`;
  return {
    ...fields,
    uid: fields.uid ?? uuidFrom(seed),
    resourceVersion: resourceVersion(seed),
    creationTimestamp: timestamp(ctx.createdAt),
  };
}

function uuidFrom(seed: string): string {
  const h = hex(seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** RFC 3339 at second precision, as Kubernetes serialises metav1.Time. */
export function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function condition(type: string, status: boolean, at: string, reason?: string, message?: string) {
  return {
    type,
    status: status ? 'True' : 'False',
    lastTransitionTime: at,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  };
}

export function buildNode(ctx: ObjectContext, node: PlannedNode): KubeObject {
  const { plan } = ctx;
  const at = timestamp(ctx.createdAt);
  const prefix = plan.nodeSubnet.split('/')[1];
  const tunnelAnnotation =
    plan.overlay === 'ipip' ? 'projectcalico.org/IPv4IPIPTunnelAddr' : 'projectcalico.org/IPv4VXLANTunnelAddr';
  const heartbeat = (c: ReturnType<typeof condition>) => ({ ...c, lastHeartbeatTime: at });
  return {
    metadata: meta(ctx, 'node', {
      name: node.name,
      uid: node.uid,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': node.name,
        'kubernetes.io/os': 'linux',
      },
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'projectcalico.org/IPv4Address': node.calicoIPv4Address ?? `${node.ip}/${prefix}`,
        ...(plan.overlay === 'none' ? {} : { [tunnelAnnotation]: node.tunnelIP }),
        ...(node.ipv6 ? { 'projectcalico.org/IPv6Address': `${node.ipv6}/64` } : {}),
        ...(node.tunnelIPv6 ? { 'projectcalico.org/IPv6VXLANTunnelAddr': node.tunnelIPv6 } : {}),
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    }),
    spec: { podCIDR: node.block, podCIDRs: [node.block, ...(node.blockV6 ? [node.blockV6] : [])] },
    status: {
      addresses: [
        { type: 'InternalIP', address: node.ip },
        ...(node.ipv6 ? [{ type: 'InternalIP', address: node.ipv6 }] : []),
        { type: 'Hostname', address: node.name },
      ],
      conditions: [
        condition('NetworkUnavailable', false, at, 'CalicoIsUp', 'Calico is running on this node'),
        heartbeat(
          condition(
            'MemoryPressure',
            false,
            at,
            'KubeletHasSufficientMemory',
            'kubelet has sufficient memory available',
          ),
        ),
        heartbeat(condition('DiskPressure', false, at, 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure')),
        heartbeat(
          condition('PIDPressure', false, at, 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        ),
        heartbeat(condition('Ready', true, at, 'KubeletReady', 'kubelet is posting ready status')),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64',
        bootID: uuidFrom(`${plan.lab}/boot/${node.name}`),
        containerRuntimeVersion: LAB_CONTAINERD_VERSION,
        kernelVersion: ctx.kernelVersion,
        kubeProxyVersion: LAB_KUBELET_VERSION,
        kubeletVersion: LAB_KUBELET_VERSION,
        machineID: hex(`${plan.lab}/machine/${node.name}`).slice(0, 32),
        operatingSystem: 'linux',
        osImage: LAB_OS_IMAGE,
        systemUUID: uuidFrom(`${plan.lab}/system/${node.name}`),
      },
    },
  };
}

function podOverride(ctx: ObjectContext, pod: PlannedPod): Required<PodOverride> {
  const o = ctx.overrides?.pods?.[`${pod.namespace}/${pod.name}`] ?? {};
  const phase = o.phase ?? 'Running';
  return { phase, ready: o.ready ?? phase === 'Running' };
}

export function podIsReady(ctx: ObjectContext, pod: PlannedPod): boolean {
  return podOverride(ctx, pod).ready;
}

export function buildPod(ctx: ObjectContext, pod: PlannedPod): KubeObject {
  const node = ctx.plan.nodes.find((n) => n.name === pod.node);
  const at = timestamp(ctx.createdAt);
  const { phase, ready } = podOverride(ctx, pod);
  const running = phase === 'Running';
  const notReady = ready ? undefined : 'ContainersNotReady';
  const notReadyMessage = ready
    ? undefined
    : `containers with unready status: [${pod.containers.map((c) => c.name).join(' ')}]`;
  return {
    metadata: meta(ctx, 'pod', {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      labels: pod.labels,
      annotations: {
        'cni.projectcalico.org/containerID': pod.sandboxId,
        'cni.projectcalico.org/podIP': `${pod.ip}/32`,
        'cni.projectcalico.org/podIPs': [`${pod.ip}/32`, ...(pod.ipv6 ? [`${pod.ipv6}/128`] : [])].join(','),
      },
    }),
    spec: {
      containers: pod.containers.map((c) => ({
        name: c.name,
        image: c.image,
        imagePullPolicy: 'IfNotPresent',
        ports: c.ports.map((p) => {
          const name = c.namedPorts?.find((n) => n.port === p)?.name;
          return { containerPort: p, ...(name === undefined ? {} : { name }), protocol: 'TCP' };
        }),
        resources: {},
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
      })),
      dnsPolicy: 'ClusterFirst',
      enableServiceLinks: true,
      nodeName: pod.node,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
      securityContext: {},
      serviceAccount: 'default',
      serviceAccountName: 'default',
      terminationGracePeriodSeconds: 30,
      tolerations: [
        { effect: 'NoExecute', key: 'node.kubernetes.io/not-ready', operator: 'Exists', tolerationSeconds: 300 },
        { effect: 'NoExecute', key: 'node.kubernetes.io/unreachable', operator: 'Exists', tolerationSeconds: 300 },
      ],
    },
    status: {
      conditions: [
        condition('PodReadyToStartContainers', running, at),
        condition('Initialized', true, at),
        condition('Ready', ready, at, notReady, notReadyMessage),
        condition('ContainersReady', ready, at, notReady, notReadyMessage),
        condition('PodScheduled', true, at),
      ].map((c) => ({ ...c, lastProbeTime: null })),
      containerStatuses: pod.containers.map((c) => ({
        containerID: `containerd://${c.id}`,
        image: c.image,
        imageID: `${c.image.split(':')[0]}@sha256:${hex(c.image)}`,
        lastState: {},
        name: c.name,
        ready,
        restartCount: 0,
        started: running,
        state: running
          ? { running: { startedAt: at } }
          : {
              terminated: {
                exitCode: phase === 'Succeeded' ? 0 : 1,
                reason: phase === 'Succeeded' ? 'Completed' : 'Error',
                startedAt: at,
                finishedAt: at,
              },
            },
      })),
      hostIP: node?.ip,
      hostIPs: node ? [{ ip: node.ip }] : [],
      phase,
      podIP: pod.ip,
      podIPs: [{ ip: pod.ip }, ...(pod.ipv6 ? [{ ip: pod.ipv6 }] : [])],
      qosClass: 'BestEffort',
      startTime: at,
    },
  };
}

export function buildService(ctx: ObjectContext, svc: PlannedService): KubeObject {
  return {
    metadata: meta(ctx, 'service', { name: svc.name, namespace: svc.namespace, uid: svc.uid }),
    spec: {
      clusterIP: svc.clusterIP,
      clusterIPs: [svc.clusterIP, ...(svc.ipv6 ? [svc.ipv6.clusterIP] : [])],
      ...(svc.type === 'NodePort' ? { externalTrafficPolicy: 'Cluster' } : {}),
      internalTrafficPolicy: 'Cluster',
      ipFamilies: svc.ipv6 ? ['IPv4', 'IPv6'] : [svc.ipFamily === 6 ? 'IPv6' : 'IPv4'],
      ipFamilyPolicy: svc.ipv6 ? 'RequireDualStack' : 'SingleStack',
      ports: svc.ports.map((p) => ({
        name: p.name,
        ...(p.nodePort === undefined ? {} : { nodePort: p.nodePort }),
        port: p.port,
        protocol: p.protocol,
        targetPort: p.targetPort,
      })),
      selector: svc.selector,
      sessionAffinity: 'None',
      type: svc.type,
    },
    status: { loadBalancer: {} },
  };
}

interface ServiceBackend {
  pod: PlannedPod;
  ready: boolean;
}

/** The pods behind a Service, in plan order (every port of a lab Service selects the same pods). */
function backends(ctx: ObjectContext, svc: PlannedService): ServiceBackend[] {
  const names = new Set((svc.ports[0]?.endpoints ?? []).map((e) => `${e.namespace}/${e.pod}`));
  return ctx.plan.pods
    .filter((p) => names.has(`${p.namespace}/${p.name}`))
    .filter((p) => podOverride(ctx, p).phase === 'Running')
    .map((pod) => ({ pod, ready: podIsReady(ctx, pod) }));
}

/** The pod's address in the Service's family (a single-stack IPv6 Service's endpoints are the pods' IPv6). */
function backendIp(svc: PlannedService, pod: PlannedPod): string {
  return svc.ipFamily === 6 ? (pod.ipv6 ?? pod.ip) : pod.ip;
}

function targetRef(pod: PlannedPod) {
  return { kind: 'Pod', name: pod.name, namespace: pod.namespace, uid: pod.uid };
}

export function buildEndpoints(ctx: ObjectContext, svc: PlannedService): KubeObject {
  const all = backends(ctx, svc);
  const address = (b: ServiceBackend) => ({
    ip: backendIp(svc, b.pod),
    nodeName: b.pod.node,
    targetRef: targetRef(b.pod),
  });
  const ready = all.filter((b) => b.ready).map(address);
  const notReady = all.filter((b) => !b.ready).map(address);
  const subsets =
    all.length === 0
      ? []
      : [
          {
            ...(ready.length > 0 ? { addresses: ready } : {}),
            ...(notReady.length > 0 ? { notReadyAddresses: notReady } : {}),
            ports: svc.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol })),
          },
        ];
  return {
    metadata: meta(ctx, 'endpoints', {
      name: svc.name,
      namespace: svc.namespace,
      labels: { 'endpoints.kubernetes.io/managed-by': 'endpoint-controller' },
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': timestamp(ctx.createdAt) },
    }),
    subsets,
  };
}

/**
 * The endpointslice controller names slices `<service>-<5 random characters>` (generateName); a dual-stack
 * Service's IPv6 slice (`half` 6) gets a name of its own.
 */
export function endpointSliceName(ctx: ObjectContext, svc: PlannedService, half: 4 | 6 = 4): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789'; // apimachinery's rand.String alphabet
  const h = hex(`${ctx.plan.lab}/slice/${svc.namespace}/${svc.name}${half === 6 ? '/ipv6' : ''}`);
  const suffix = [0, 1, 2, 3, 4]
    .map((i) => alphabet[parseInt(h.slice(i * 2, i * 2 + 2), 16) % alphabet.length])
    .join('');
  return `${svc.name}-${suffix}`;
}

/** The Service's EndpointSlices: one per address family, as the endpointslice controller keeps them. */
export function buildEndpointSlices(ctx: ObjectContext, svc: PlannedService): KubeObject[] {
  const ipv6Half = svc.ipv6 ? { ...svc, ipFamily: 6 as const, ports: svc.ipv6.ports } : null;
  return [buildEndpointSlice(ctx, svc, 4), ...(ipv6Half ? [buildEndpointSlice(ctx, ipv6Half, 6)] : [])];
}

function buildEndpointSlice(ctx: ObjectContext, svc: PlannedService, half: 4 | 6): KubeObject {
  return {
    metadata: meta(ctx, 'endpointslice', {
      name: endpointSliceName(ctx, svc, half),
      namespace: svc.namespace,
      generateName: `${svc.name}-`,
      labels: {
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        'kubernetes.io/service-name': svc.name,
      },
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': timestamp(ctx.createdAt) },
      ownerReferences: [
        { apiVersion: 'v1', blockOwnerDeletion: true, controller: true, kind: 'Service', name: svc.name, uid: svc.uid },
      ],
    }),
    addressType: svc.ipFamily === 6 ? 'IPv6' : 'IPv4',
    endpoints: backends(ctx, svc).map((b) => ({
      addresses: [backendIp(svc, b.pod)],
      conditions: { ready: b.ready, serving: b.ready, terminating: false },
      nodeName: b.pod.node,
      targetRef: targetRef(b.pod),
    })),
    ports: svc.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol })),
  };
}

/** Every namespace carries kubernetes.io/metadata.name (set by the API server since v1.21) after its declared labels. */
export function buildNamespaces(ctx: ObjectContext): KubeObject[] {
  const declared = new Map((ctx.plan.namespaces ?? []).map((n) => [n.name, n.labels]));
  const names = new Set([
    ...NAMESPACES_OF_A_CLUSTER,
    ...declared.keys(),
    ...ctx.plan.pods.map((p) => p.namespace),
    ...ctx.plan.services.map((s) => s.namespace),
  ]);
  return [...names].sort().map((name) => ({
    metadata: meta(ctx, 'namespace', { name, labels: { ...declared.get(name), 'kubernetes.io/metadata.name': name } }),
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  }));
}

/**
 * The node as Calico's API server serves it (projectcalico.org/v3 Node, the shape `calicoctl get nodes -o yaml`
 * prints): in the Kubernetes datastore it is made from the Node's annotations, so spec.bgp.ipv4Address is the
 * projectcalico.org/IPv4Address annotation (and ipv6Address the IPv6Address one).
 */
export function buildCalicoNode(ctx: ObjectContext, node: PlannedNode): KubeObject {
  const prefix = ctx.plan.nodeSubnet.split('/')[1];
  return {
    apiVersion: `${CALICO_V3_GROUP}/v3`,
    kind: 'Node',
    metadata: meta(ctx, 'calico-node', { name: node.name }),
    spec: {
      bgp: {
        ipv4Address: node.calicoIPv4Address ?? `${node.ip}/${prefix}`,
        // The projectcalico.org/IPv6Address annotation's value, on a dual-stack node (BIRD6 peers from it).
        ...(node.ipv6 ? { ipv6Address: `${node.ipv6}/64` } : {}),
      },
      ...(ctx.plan.overlay === 'vxlan' ? { ipv4VXLANTunnelAddr: node.tunnelIP } : {}),
      orchRefs: [{ nodeName: node.name, orchestrator: 'k8s' }],
    },
  };
}

/**
 * The plan's IPv4 pool, or another it names (a dual-stack lab's IPv6 pool), as its CRD stores it
 * (crd.projectcalico.org/v1) or as Calico's API server / 3.32's native CRDs serve it (projectcalico.org/v3).
 */
export function buildIpPool(
  ctx: ObjectContext,
  pool: PlannedIpPool = ctx.plan.ipPool,
  apiVersion = `${CALICO_GROUP}/v1`,
): KubeObject {
  return {
    apiVersion,
    kind: 'IPPool',
    metadata: { ...meta(ctx, 'ippool', { name: pool.name }), generation: 1 },
    spec: {
      allowedUses: ['Workload', 'Tunnel'],
      blockSize: pool.blockSize,
      cidr: pool.cidr,
      ipipMode: pool.ipipMode,
      natOutgoing: pool.natOutgoing,
      nodeSelector: 'all()',
      vxlanMode: pool.vxlanMode,
    },
  };
}

/** The IPPool CRD as Calico's manifests install it (schema trimmed to the fields the lab serves). */
export function buildIpPoolCrd(ctx: ObjectContext): KubeObject {
  const name = `ippools.${CALICO_GROUP}`;
  const encap = { type: 'string', enum: ['Always', 'CrossSubnet', 'Never'] };
  return {
    metadata: { ...meta(ctx, 'crd', { name }), generation: 1 },
    spec: {
      conversion: { strategy: 'None' },
      group: CALICO_GROUP,
      names: { kind: 'IPPool', listKind: 'IPPoolList', plural: 'ippools', singular: 'ippool' },
      scope: 'Cluster',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: {
                  type: 'object',
                  required: ['cidr'],
                  properties: {
                    allowedUses: { type: 'array', items: { type: 'string' } },
                    blockSize: { type: 'integer' },
                    cidr: { type: 'string' },
                    disabled: { type: 'boolean' },
                    ipipMode: encap,
                    natOutgoing: { type: 'boolean' },
                    nodeSelector: { type: 'string' },
                    vxlanMode: encap,
                  },
                },
              },
            },
          },
        },
      ],
    },
    status: {
      acceptedNames: { kind: 'IPPool', listKind: 'IPPoolList', plural: 'ippools', singular: 'ippool' },
      conditions: [
        {
          type: 'NamesAccepted',
          status: 'True',
          reason: 'NoConflicts',
          message: 'no conflicts found',
          lastTransitionTime: timestamp(ctx.createdAt),
        },
        {
          type: 'Established',
          status: 'True',
          reason: 'InitialNamesAccepted',
          message: 'the initial names have been accepted',
          lastTransitionTime: timestamp(ctx.createdAt),
        },
      ],
      storedVersions: ['v1'],
    },
  };
}

/** The NetworkPolicy and GlobalNetworkPolicy CRDs as Calico's manifests install them (schemas: policy-schemas.ts). */
export function buildPolicyCrds(ctx: ObjectContext): KubeObject[] {
  return [
    { kind: 'GlobalNetworkPolicy', plural: 'globalnetworkpolicies', singular: 'globalnetworkpolicy', scope: 'Cluster' },
    { kind: 'NetworkPolicy', plural: 'networkpolicies', singular: 'networkpolicy', scope: 'Namespaced' },
  ].map((n) => {
    const names = { kind: n.kind, listKind: `${n.kind}List`, plural: n.plural, singular: n.singular };
    const at = timestamp(ctx.createdAt);
    return {
      metadata: { ...meta(ctx, 'crd', { name: `${n.plural}.${CALICO_GROUP}` }), generation: 1 },
      spec: {
        conversion: { strategy: 'None' },
        group: CALICO_GROUP,
        names,
        scope: n.scope,
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: inlineSchema(`${CALICO_CRD_PREFIX}.${n.kind}`) },
          },
        ],
      },
      status: {
        acceptedNames: names,
        conditions: [
          {
            type: 'NamesAccepted',
            status: 'True',
            reason: 'NoConflicts',
            message: 'no conflicts found',
            lastTransitionTime: at,
          },
          {
            type: 'Established',
            status: 'True',
            reason: 'InitialNamesAccepted',
            message: 'the initial names have been accepted',
            lastTransitionTime: at,
          },
        ],
        storedVersions: ['v1'],
      },
    };
  });
}

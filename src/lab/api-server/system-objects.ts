/**
 * The lab's kube-system as a kubeadm cluster with Calico's manifest (manifests/calico-vxlan.yaml, calico.yaml for
 * IP-in-IP; no tigera-operator, so no Installation) serves it: the kube-controller-manager static pod with kubeadm's
 * flags, the kube-proxy and calico-node DaemonSets and their host-network pods (one per node), and the
 * `kube-proxy` and `calico-config` ConfigMaps. Only the objects: nothing of them runs. Pure, like objects.ts.
 */
import { createHash } from 'node:crypto';
import type { LabPlan, PlannedNode } from '../plan.ts';
import { LAB_KUBELET_VERSION, timestamp, type KubeObject, type ObjectContext } from './objects.ts';

export const KUBE_SYSTEM = 'kube-system';
/** Calico release whose manifest the lab's objects follow. */
export const LAB_CALICO_VERSION = 'v3.29.6';
const CALICO_NODE_IMAGE = `docker.io/calico/node:${LAB_CALICO_VERSION}`;
const CALICO_CNI_IMAGE = `docker.io/calico/cni:${LAB_CALICO_VERSION}`;
const KUBE_PROXY_IMAGE = `registry.k8s.io/kube-proxy:${LAB_KUBELET_VERSION}`;
const KCM_IMAGE = `registry.k8s.io/kube-controller-manager:${LAB_KUBELET_VERSION}`;

/** calico-config's cni_network_config as the manifest publishes it (calico-node's install-cni fills the __X__). */
export const CALICO_CNI_NETWORK_CONFIG = `{
  "name": "k8s-pod-network",
  "cniVersion": "0.3.1",
  "plugins": [
    {
      "type": "calico",
      "log_level": "info",
      "log_file_path": "/var/log/calico/cni/cni.log",
      "datastore_type": "kubernetes",
      "nodename": "__KUBERNETES_NODE_NAME__",
      "mtu": __CNI_MTU__,
      "ipam": {
          "type": "calico-ipam"
      },
      "policy": {
          "type": "k8s"
      },
      "kubernetes": {
          "kubeconfig": "__KUBECONFIG_FILEPATH__"
      }
    },
    {
      "type": "portmap",
      "snat": true,
      "capabilities": {"portMappings": true}
    },
    {
      "type": "bandwidth",
      "capabilities": {"bandwidth": true}
    }
  ]
}`;

function hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function uid(seed: string): string {
  const h = hex(seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function meta(ctx: ObjectContext, kind: string, name: string, extra: Record<string, unknown> = {}) {
  const seed = `${ctx.plan.lab}/${kind}/${KUBE_SYSTEM}/${name}`;
  return {
    name,
    namespace: KUBE_SYSTEM,
    uid: uid(seed),
    resourceVersion: String(1000 + (parseInt(hex(seed).slice(0, 6), 16) % 900_000)),
    creationTimestamp: timestamp(ctx.createdAt),
    ...extra,
  };
}

/** A DaemonSet pod's name: `<ds>-` and 5 characters of apimachinery's rand.String alphabet. */
export function daemonPodName(plan: LabPlan, daemonSet: string, node: string): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const h = hex(`${plan.lab}/${daemonSet}/${node}`);
  return `${daemonSet}-${[0, 1, 2, 3, 4].map((i) => alphabet[parseInt(h.slice(i * 2, i * 2 + 2), 16) % alphabet.length]).join('')}`;
}

/** calico-config's calico_backend: "vxlan" in calico-vxlan.yaml; "bird" in calico.yaml (IP-in-IP or no overlay). */
export function calicoBackend(plan: LabPlan): string {
  return plan.overlay === 'vxlan' ? 'vxlan' : 'bird';
}

/**
 * calico-config's veth_mtu. Dual-stack: "0" (auto-detect, the manifest's default), as Felix then gives each tunnel its
 * own MTU (vxlan.calico 1450, vxlan-v6.calico 1430) and pods the smaller; an explicit value would set every tunnel to
 * it (FELIX_VXLANMTU and the others read veth_mtu), which is not what the lab's interfaces have.
 */
export function calicoVethMtu(plan: LabPlan): number {
  return plan.calicoVethMtu ?? (plan.ipPoolV6 ? 0 : plan.podMtu);
}

export function clusterCidrOf(plan: LabPlan): string {
  return plan.clusterCIDR ?? plan.ipPool.cidr;
}

const configMapKey = (key: string) => ({ valueFrom: { configMapKeyRef: { name: 'calico-config', key } } });

/** calico-node's env as the manifest writes it, with the pool the lab has and first-found autodetection. */
export function calicoNodeEnv(plan: LabPlan): Record<string, unknown>[] {
  const vxlan = plan.overlay === 'vxlan';
  return [
    { name: 'DATASTORE_TYPE', value: 'kubernetes' },
    { name: 'WAIT_FOR_DATASTORE', value: 'true' },
    { name: 'NODENAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } },
    { name: 'CALICO_NETWORKING_BACKEND', ...configMapKey('calico_backend') },
    { name: 'CLUSTER_TYPE', value: vxlan ? 'k8s' : 'k8s,bgp' },
    { name: 'IP', value: 'autodetect' },
    { name: 'IP_AUTODETECTION_METHOD', value: 'first-found' },
    { name: 'CALICO_IPV4POOL_IPIP', value: plan.ipPool.ipipMode },
    { name: 'CALICO_IPV4POOL_VXLAN', value: plan.ipPool.vxlanMode },
    { name: 'CALICO_IPV6POOL_VXLAN', value: 'Never' },
    { name: 'FELIX_IPINIPMTU', ...configMapKey('veth_mtu') },
    { name: 'FELIX_VXLANMTU', ...configMapKey('veth_mtu') },
    { name: 'FELIX_WIREGUARDMTU', ...configMapKey('veth_mtu') },
    { name: 'CALICO_IPV4POOL_CIDR', value: plan.ipPool.cidr },
    { name: 'CALICO_IPV4POOL_BLOCK_SIZE', value: String(plan.ipPool.blockSize) },
    { name: 'CALICO_DISABLE_FILE_LOGGING', value: 'true' },
    { name: 'FELIX_DEFAULTENDPOINTTOHOSTACTION', value: 'ACCEPT' },
    { name: 'FELIX_IPV6SUPPORT', value: 'false' },
    { name: 'FELIX_HEALTHENABLED', value: 'true' },
  ];
}

/** kubeadm's kube-controller-manager static pod command (v1.32), with --cluster-cidr from the topology. */
export function controllerManagerCommand(plan: LabPlan): string[] {
  return [
    'kube-controller-manager',
    '--allocate-node-cidrs=true',
    '--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf',
    '--authorization-kubeconfig=/etc/kubernetes/controller-manager.conf',
    '--bind-address=127.0.0.1',
    '--client-ca-file=/etc/kubernetes/pki/ca.crt',
    `--cluster-cidr=${clusterCidrOf(plan)}`,
    '--cluster-name=kubernetes',
    '--cluster-signing-cert-file=/etc/kubernetes/pki/ca.crt',
    '--cluster-signing-key-file=/etc/kubernetes/pki/ca.key',
    '--controllers=*,bootstrapsigner,tokencleaner',
    '--kubeconfig=/etc/kubernetes/controller-manager.conf',
    '--leader-elect=true',
    '--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt',
    '--root-ca-file=/etc/kubernetes/pki/ca.crt',
    '--service-account-private-key-file=/etc/kubernetes/pki/sa.key',
    `--service-cluster-ip-range=${plan.serviceCIDR}`,
    '--use-service-account-credentials=true',
  ];
}

const KUBE_PROXY_COMMAND = [
  '/usr/local/bin/kube-proxy',
  '--config=/var/lib/kube-proxy/config.conf',
  '--hostname-override=$(NODE_NAME)',
];

/** kubeadm's kube-proxy ConfigMap config.conf (KubeProxyConfiguration), trimmed to the fields kubeadm sets. */
export function kubeProxyConfig(plan: LabPlan): string {
  return [
    'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
    'bindAddress: 0.0.0.0',
    'clientConnection:',
    '  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf',
    `clusterCIDR: ${clusterCidrOf(plan)}`,
    'conntrack:',
    '  maxPerCore: null',
    'healthzBindAddress: ""',
    'iptables:',
    '  masqueradeAll: false',
    '  syncPeriod: 0s',
    'kind: KubeProxyConfiguration',
    'metricsBindAddress: ""',
    `mode: ${plan.kubeProxy ?? 'iptables'}`,
    'nodePortAddresses: null',
    '',
  ].join('\n');
}

function containerStatus(ctx: ObjectContext, name: string, image: string, seed: string) {
  return {
    containerID: `containerd://${hex(`${ctx.plan.lab}/container/${seed}/${name}`)}`,
    image,
    imageID: `${image.split(':')[0]}@sha256:${hex(image)}`,
    lastState: {},
    name,
    ready: true,
    restartCount: 0,
    started: true,
    state: { running: { startedAt: timestamp(ctx.createdAt) } },
  };
}

function hostPod(
  ctx: ObjectContext,
  name: string,
  node: PlannedNode,
  labels: Record<string, string>,
  spec: Record<string, unknown>,
  owner: Record<string, unknown> | null,
): KubeObject {
  const at = timestamp(ctx.createdAt);
  const containers = (spec.containers as { name: string; image: string }[]) ?? [];
  return {
    metadata: meta(ctx, 'pod', name, {
      labels,
      ...(owner ? { ownerReferences: [owner], generateName: `${String(owner.name)}-` } : {}),
    }),
    spec: {
      ...spec,
      hostNetwork: true,
      nodeName: node.name,
      dnsPolicy: 'ClusterFirst',
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
      priorityClassName: 'system-node-critical',
      priority: 2000001000,
    },
    status: {
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(
        (type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: at }),
      ),
      containerStatuses: containers.map((c) => containerStatus(ctx, c.name, c.image, name)),
      hostIP: node.ip,
      hostIPs: [{ ip: node.ip }],
      phase: 'Running',
      podIP: node.ip,
      podIPs: [{ ip: node.ip }],
      qosClass: 'Burstable',
      startTime: at,
    },
  };
}

function calicoNodeTemplate(plan: LabPlan) {
  return {
    metadata: { labels: { 'k8s-app': 'calico-node' } },
    spec: {
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      hostNetwork: true,
      serviceAccountName: 'calico-node',
      initContainers: [
        {
          name: 'install-cni',
          image: CALICO_CNI_IMAGE,
          command: ['/opt/cni/bin/install'],
          env: [
            { name: 'CNI_CONF_NAME', value: '10-calico.conflist' },
            { name: 'CNI_NETWORK_CONFIG', ...configMapKey('cni_network_config') },
            { name: 'CNI_MTU', ...configMapKey('veth_mtu') },
          ],
        },
      ],
      containers: [
        {
          name: 'calico-node',
          image: CALICO_NODE_IMAGE,
          env: calicoNodeEnv(plan),
          securityContext: { privileged: true },
        },
      ],
    },
  };
}

function kubeProxyTemplate() {
  return {
    metadata: { labels: { 'k8s-app': 'kube-proxy' } },
    spec: {
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      hostNetwork: true,
      serviceAccountName: 'kube-proxy',
      containers: [
        {
          name: 'kube-proxy',
          image: KUBE_PROXY_IMAGE,
          command: KUBE_PROXY_COMMAND,
          env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } }],
          securityContext: { privileged: true },
        },
      ],
    },
  };
}

function daemonSet(
  ctx: ObjectContext,
  name: string,
  template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> },
): KubeObject {
  const n = ctx.plan.nodes.length;
  return {
    metadata: { ...meta(ctx, 'daemonset', name, { labels: template.metadata.labels }), generation: 1 },
    spec: {
      selector: { matchLabels: template.metadata.labels },
      template,
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
    },
    status: {
      currentNumberScheduled: n,
      desiredNumberScheduled: n,
      numberAvailable: n,
      numberMisscheduled: 0,
      numberReady: n,
      observedGeneration: 1,
      updatedNumberScheduled: n,
    },
  };
}

export function buildSystemDaemonSets(ctx: ObjectContext): KubeObject[] {
  return [
    daemonSet(ctx, 'calico-node', calicoNodeTemplate(ctx.plan)),
    daemonSet(ctx, 'kube-proxy', kubeProxyTemplate()),
  ];
}

export function buildSystemPods(ctx: ObjectContext): KubeObject[] {
  const { plan } = ctx;
  const first = plan.nodes[0];
  const owner = (name: string) => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    name,
    uid: uid(`${plan.lab}/daemonset/${KUBE_SYSTEM}/${name}`),
    controller: true,
    blockOwnerDeletion: true,
  });
  const pods: KubeObject[] = [];
  if (first) {
    // kubeadm's control-plane node runs it as a static pod, mirrored as <component>-<node>.
    pods.push(
      hostPod(
        ctx,
        `kube-controller-manager-${first.name}`,
        first,
        { component: 'kube-controller-manager', tier: 'control-plane' },
        {
          containers: [{ name: 'kube-controller-manager', image: KCM_IMAGE, command: controllerManagerCommand(plan) }],
        },
        null,
      ),
    );
  }
  for (const node of plan.nodes) {
    const calico = calicoNodeTemplate(plan);
    pods.push(
      hostPod(
        ctx,
        daemonPodName(plan, 'calico-node', node.name),
        node,
        calico.metadata.labels,
        calico.spec,
        owner('calico-node'),
      ),
    );
    const proxy = kubeProxyTemplate();
    pods.push(
      hostPod(
        ctx,
        daemonPodName(plan, 'kube-proxy', node.name),
        node,
        proxy.metadata.labels,
        proxy.spec,
        owner('kube-proxy'),
      ),
    );
  }
  return pods;
}

export function buildSystemConfigMaps(ctx: ObjectContext): KubeObject[] {
  const { plan } = ctx;
  return [
    {
      metadata: meta(ctx, 'configmap', 'calico-config'),
      data: {
        typha_service_name: 'none',
        calico_backend: calicoBackend(plan),
        veth_mtu: String(calicoVethMtu(plan)),
        cni_network_config: CALICO_CNI_NETWORK_CONFIG,
      },
    },
    {
      metadata: meta(ctx, 'configmap', 'kube-proxy', { labels: { app: 'kube-proxy' } }),
      data: {
        'config.conf': kubeProxyConfig(plan),
        'kubeconfig.conf':
          'apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n    server: https://control-plane:6443\n  name: default\n',
      },
    },
  ];
}

/** What `kubectl logs` (GET …/pods/<name>/log) answers for a lab pod: one line saying nothing runs it. */
export function podLogText(namespace: string, name: string): string {
  return `k8snet lab: ${namespace}/${name} has no container runtime behind it; no logs\n`;
}

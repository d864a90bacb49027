/**
 * What operations know of the cluster: our own types, filled by the Kubernetes adapter (the only importer of
 * @kubernetes/client-node). Operations depend on ClusterReader, never on the client library.
 */
import type { KubeProxyConfigInfo } from './kube-proxy-config.ts';

export interface NodeInfo {
  name: string;
  /** status.addresses InternalIP: the SSH address unless overridden. */
  internalIP: string | null;
  addresses: { type: string; address: string }[];
  podCIDRs: string[];
  /** Calico's tunnel addresses from node annotations (projectcalico.org/IPv4VXLANTunnelAddr, IPv4IPIPTunnelAddr). */
  vxlanTunnelIP: string | null;
  ipipTunnelIP: string | null;
  /** vxlan-v6.calico's address (annotation projectcalico.org/IPv6VXLANTunnelAddr), on dual-stack nodes. */
  vxlanTunnelIPv6?: string | null;
  ready: boolean;
  labels: Record<string, string>;
  /** The address calico/node autodetected (annotation projectcalico.org/IPv4Address, prefix dropped; BIRD peers from it); absent/null when not set. */
  calicoIPv4Address?: string | null;
  /** The same for IPv6 (projectcalico.org/IPv6Address, prefix dropped): BIRD6 peers from it. */
  calicoIPv6Address?: string | null;
}

export interface ContainerInfo {
  name: string;
  /** containerd://<64 hex> as the API reports it, or null before the container started. */
  containerID: string | null;
  image: string;
  ready: boolean;
  restartCount: number;
  ports: { containerPort: number; protocol: string; name?: string }[];
}

export interface PodInfo {
  name: string;
  namespace: string;
  uid: string;
  nodeName: string | null;
  podIP: string | null;
  podIPs: string[];
  hostIP: string | null;
  phase: string;
  ready: boolean;
  hostNetwork: boolean;
  labels: Record<string, string>;
  containers: ContainerInfo[];
  /** spec.serviceAccountName (Calico policies may select by it); absent when the source did not say. */
  serviceAccount?: string | null;
}

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

/**
 * Network policy objects as the API serves them (apiVersion and kind set on each), for src/policy to validate and
 * normalize: they come from the cluster, so nothing about their shape is trusted here.
 */
export interface PolicyObjects {
  objects: unknown[];
  /** Which APIs answered ("networking.k8s.io/v1 networkpolicies", "projectcalico.org/v3 globalnetworkpolicies" …). */
  read: string[];
  /** APIs that could not be read and why (not served is not listed: a cluster without Calico's API is normal). */
  errors: string[];
}

export interface ServicePortInfo {
  name: string | null;
  protocol: string;
  port: number;
  targetPort: number | string;
  nodePort: number | null;
}

export interface ServiceInfo {
  name: string;
  namespace: string;
  type: string;
  clusterIP: string | null;
  clusterIPs: string[];
  selector: Record<string, string>;
  ports: ServicePortInfo[];
  externalTrafficPolicy: string | null;
}

export interface EndpointInfo {
  ip: string;
  ready: boolean;
  nodeName: string | null;
  /** targetRef when it is a Pod. */
  pod: { name: string; namespace: string } | null;
  ports: { name: string | null; port: number; protocol: string }[];
}

export type EncapsulationSetting = 'Always' | 'CrossSubnet' | 'Never';

export interface IpPoolInfo {
  name: string;
  cidr: string;
  blockSize: number;
  ipipMode: EncapsulationSetting;
  vxlanMode: EncapsulationSetting;
  natOutgoing: boolean;
  disabled: boolean;
  /** Which API served it: crd.projectcalico.org/v1 or projectcalico.org/v3. */
  apiVersion: string;
}

/** A Calico Node resource (projectcalico.org/v3 `nodes`, served by Calico's API server): the address BGP uses. */
export interface CalicoNodeInfo {
  name: string;
  /** spec.bgp.ipv4Address as stored (`a.b.c.d/len`); null when the node has no BGP spec (policy-only Calico). */
  bgpIPv4Address: string | null;
  /** spec.bgp.ipv6Address as stored (`addr/len`); null when not set (no IPv6 BGP). */
  bgpIPv6Address?: string | null;
}

/** FelixConfiguration `default` (crd.projectcalico.org/v1 or projectcalico.org/v3): the fields k8snet reads. */
export interface FelixConfigInfo {
  apiVersion: string;
  vxlanMTU: number | null;
  ipipMTU: number | null;
  bpfEnabled: boolean | null;
  iptablesBackend: string | null;
  nftablesMode: string | null;
}

/** operator.tigera.io/v1 Installation `default` (tigera-operator installs only). */
export interface InstallationInfo {
  /** spec.calicoNetwork.mtu */
  mtu: number | null;
  /** spec.calicoNetwork.nodeAddressAutodetectionV4, e.g. { firstFound: true } or { kubernetes: "NodeInternalIP" }. */
  nodeAddressAutodetectionV4: Record<string, unknown> | null;
  ipPools: { cidr: string; encapsulation: string | null }[];
}

/**
 * Calico's and the cluster's own configuration, read where it lives; every piece null when absent or unreadable
 * (`errors` says which could not be read, never a throw).
 */
export interface CalicoConfig {
  /** calico-node container's env: values, and configMapKeyRef values resolved from the ConfigMap; fieldRefs left out. */
  calicoNodeEnv: Record<string, string> | null;
  /** Where the env came from: "daemonset kube-system/calico-node" or "pod calico-system/calico-node-x2v4z". */
  calicoNodeSource: string | null;
  /** calico-config's veth_mtu ("0": auto-detect, Calico ≥ 3.22's default) and calico_backend. */
  vethMtu: number | null;
  calicoBackend: string | null;
  installation: InstallationInfo | null;
  felix: FelixConfigInfo | null;
  /** kube-controller-manager's --cluster-cidr (comma-separated for dual stack), from its pod's command. */
  clusterCIDR: string | null;
  errors: string[];
}

export interface PodListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ClusterReader {
  /** Throws K8snetError code `not_found` (with a user-safe message) when the pod does not exist. */
  getPod(namespace: string, name: string): Promise<PodInfo>;
  listPods(options?: PodListOptions): Promise<PodInfo[]>;
  getNode(name: string): Promise<NodeInfo>;
  listNodes(): Promise<NodeInfo[]>;
  getService(namespace: string, name: string): Promise<ServiceInfo>;
  /** All namespaces when namespace is undefined. */
  listServices(namespace?: string): Promise<ServiceInfo[]>;
  /** From EndpointSlices (label kubernetes.io/service-name), falling back to v1 Endpoints. */
  listEndpoints(namespace: string, service: string): Promise<EndpointInfo[]>;
  /** crd.projectcalico.org/v1 IPPools, or projectcalico.org/v3 where served; [] when Calico's CRDs are absent. */
  listIpPools(): Promise<IpPoolInfo[]>;
  listNamespaces(): Promise<NamespaceInfo[]>;
  /**
   * Every network policy: Kubernetes NetworkPolicies, Calico NetworkPolicies and GlobalNetworkPolicies (through
   * projectcalico.org/v3 where Calico's API server serves it, else the crd.projectcalico.org/v1 CRDs they are stored
   * in), and AdminNetworkPolicies where served. One API failing is reported in `errors`, not thrown.
   */
  listPolicyObjects(): Promise<PolicyObjects>;
  /** projectcalico.org/v3 Calico Nodes where Calico's API server serves them; null where it does not (404). */
  listCalicoNodes(): Promise<CalicoNodeInfo[] | null>;
  /** calico-node's env, calico-config, Installation, FelixConfiguration default, kube-controller-manager's --cluster-cidr. */
  readCalicoConfig(): Promise<CalicoConfig>;
  /** kube-proxy's configured mode (ConfigMap kube-system/kube-proxy); null when absent, unreadable or not allowed. */
  readKubeProxyConfig(): Promise<KubeProxyConfigInfo | null>;
}

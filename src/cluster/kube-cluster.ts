/**
 * ClusterReader over @kubernetes/client-node 2.x: the one place the project talks to the Kubernetes API. Every call
 * has a deadline, every answer is mapped to our types by the pure functions in kube-objects.ts, and every failure
 * leaves as a K8snetError (kube-errors.ts).
 */
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  Observable,
} from '@kubernetes/client-node';
import type {
  ConfigurationOptions,
  KubeConfig,
  ObservableMiddleware,
  RequestContext,
  ResponseContext,
} from '@kubernetes/client-node';
import type {
  CalicoConfig,
  ClusterReader,
  EndpointInfo,
  IpPoolInfo,
  CalicoNodeInfo,
  NamespaceInfo,
  NodeInfo,
  PodInfo,
  PodListOptions,
  PolicyObjects,
  ServiceInfo,
} from './types.ts';
import { KUBE_PROXY_CONFIGMAP, kubeProxyConfigFrom, type KubeProxyConfigInfo } from './kube-proxy-config.ts';
import { toCalicoConfig, type RawCalicoObjects } from './calico-config.ts';
import { loadKubeConfig, type KubeConfigOptions } from './kube-config.ts';
import { translateKubeError, type KubeTarget } from './kube-errors.ts';
import {
  SERVICE_NAME_LABEL,
  endpointsFromSlices,
  endpointsFromV1,
  itemsWithKind,
  toIpPoolList,
  toCalicoNodeList,
  toNamespaceInfo,
  toNodeInfo,
  toPodInfo,
  toServiceInfo,
} from './kube-objects.ts';

/** Per-request deadline: an API server answers reads in milliseconds; 15 s covers a slow control plane. */
export const KUBE_REQUEST_TIMEOUT_MS = 15_000;

/**
 * Where Calico serves IPPools: projectcalico.org/v3 first (Calico's API server, or Calico 3.32's native CRDs, where
 * v3 is all there is), else the crd.projectcalico.org/v1 CRDs older installs store them in.
 */
export const IPPOOL_APIS = [
  { group: 'projectcalico.org', version: 'v3', plural: 'ippools' },
  { group: 'crd.projectcalico.org', version: 'v1', plural: 'ippools' },
] as const;

/**
 * Where network policies are served, in the order read. Calico's two kinds: projectcalico.org/v3 (its API server, or
 * Calico 3.32's native CRDs) first, else the crd.projectcalico.org/v1 CRDs they are stored in — never both, which
 * would count each policy twice. AdminNetworkPolicies (policy.networking.k8s.io) where the cluster has them.
 */
export const POLICY_APIS: readonly { group: string; versions: readonly string[]; plural: string; kind: string }[] = [
  { group: 'networking.k8s.io', versions: ['v1'], plural: 'networkpolicies', kind: 'NetworkPolicy' },
  { group: 'projectcalico.org', versions: ['v3'], plural: 'networkpolicies', kind: 'NetworkPolicy' },
  { group: 'projectcalico.org', versions: ['v3'], plural: 'globalnetworkpolicies', kind: 'GlobalNetworkPolicy' },
  // Tiers order Calico's policies; without them, policies outside the default tier cannot be placed.
  { group: 'projectcalico.org', versions: ['v3'], plural: 'tiers', kind: 'Tier' },
  {
    group: 'policy.networking.k8s.io',
    versions: ['v1alpha1'],
    plural: 'adminnetworkpolicies',
    kind: 'AdminNetworkPolicy',
  },
  {
    group: 'policy.networking.k8s.io',
    versions: ['v1alpha1'],
    plural: 'baselineadminnetworkpolicies',
    kind: 'BaselineAdminNetworkPolicy',
  },
];
/** Where calico-node runs: the manifest's kube-system, the tigera-operator's calico-system. */
export const CALICO_NODE_NAMESPACES = ['kube-system', 'calico-system'] as const;
/** FelixConfiguration `default`: Calico's API server / 3.32 native CRDs first, then the CRDs it is stored in. */
export const FELIX_CONFIG_APIS = [
  { group: 'projectcalico.org', version: 'v3' },
  { group: 'crd.projectcalico.org', version: 'v1' },
] as const;
/** The CRDs Calico stores its policies in, read when projectcalico.org/v3 is not served. */
const CALICO_CRD_GROUP = 'crd.projectcalico.org';

export interface KubeClusterOptions {
  requestTimeoutMs?: number;
}

function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

/** Middleware giving each request its own AbortSignal deadline (client-node 2.x has no timeout setting). */
function deadline(ms: number): ConfigurationOptions<ObservableMiddleware> {
  const middleware: ObservableMiddleware = {
    pre(context: RequestContext) {
      context.setSignal(AbortSignal.timeout(ms));
      return new Observable(Promise.resolve(context));
    },
    post(context: ResponseContext) {
      return new Observable(Promise.resolve(context));
    },
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

export class KubeCluster implements ClusterReader {
  readonly server: string;
  private readonly core: CoreV1Api;
  private readonly discovery: DiscoveryV1Api;
  private readonly apps: AppsV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly requestTimeoutMs: number;

  constructor(kubeConfig: KubeConfig, options: KubeClusterOptions = {}) {
    this.server = kubeConfig.getCurrentCluster()?.server ?? '(no server)';
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.requestTimeoutMs = options.requestTimeoutMs ?? KUBE_REQUEST_TIMEOUT_MS;
  }

  /** From a kubeconfig path, in-cluster, or the default kubeconfig (see loadKubeConfig). */
  static fromConfig(config: KubeConfigOptions = {}, options: KubeClusterOptions = {}): KubeCluster {
    return new KubeCluster(loadKubeConfig(config), options);
  }

  private get options(): ConfigurationOptions<ObservableMiddleware> {
    return deadline(this.requestTimeoutMs);
  }

  private async call<T>(target: KubeTarget, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw translateKubeError(err, target, this.server);
    }
  }

  async getPod(namespace: string, name: string): Promise<PodInfo> {
    const pod = await this.call({ kind: 'pod', namespace, name }, () =>
      this.core.readNamespacedPod({ name, namespace }, this.options),
    );
    return toPodInfo(pod);
  }

  async listPods(options: PodListOptions = {}): Promise<PodInfo[]> {
    const { namespace, labelSelector, fieldSelector } = options;
    const query = { ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) };
    const list = await this.call({ kind: 'pod', ...(namespace ? { namespace } : {}) }, () =>
      namespace
        ? this.core.listNamespacedPod({ namespace, ...query }, this.options)
        : this.core.listPodForAllNamespaces(query, this.options),
    );
    return list.items.map(toPodInfo);
  }

  async getNode(name: string): Promise<NodeInfo> {
    return toNodeInfo(await this.call({ kind: 'node', name }, () => this.core.readNode({ name }, this.options)));
  }

  async listNodes(): Promise<NodeInfo[]> {
    const list = await this.call({ kind: 'node' }, () => this.core.listNode({}, this.options));
    return list.items.map(toNodeInfo);
  }

  async getService(namespace: string, name: string): Promise<ServiceInfo> {
    return toServiceInfo(
      await this.call({ kind: 'service', namespace, name }, () =>
        this.core.readNamespacedService({ name, namespace }, this.options),
      ),
    );
  }

  async listServices(namespace?: string): Promise<ServiceInfo[]> {
    const list = await this.call({ kind: 'service', ...(namespace ? { namespace } : {}) }, () =>
      namespace
        ? this.core.listNamespacedService({ namespace }, this.options)
        : this.core.listServiceForAllNamespaces({}, this.options),
    );
    return list.items.map(toServiceInfo);
  }

  /** EndpointSlices of the Service; v1 Endpoints when the cluster serves no slices for it (or no discovery.k8s.io/v1). */
  async listEndpoints(namespace: string, service: string): Promise<EndpointInfo[]> {
    const target: KubeTarget = { kind: 'endpoints', namespace, name: service };
    const slices = await this.call(target, async () => {
      try {
        return (
          await this.discovery.listNamespacedEndpointSlice(
            { namespace, labelSelector: `${SERVICE_NAME_LABEL}=${service}` },
            this.options,
          )
        ).items;
      } catch (err) {
        if (isNotFound(err)) return [];
        throw err;
      }
    });
    if (slices.length > 0) return endpointsFromSlices(slices);
    return this.call(target, async () => {
      try {
        return endpointsFromV1(await this.core.readNamespacedEndpoints({ namespace, name: service }, this.options));
      } catch (err) {
        if (isNotFound(err)) return [];
        throw err;
      }
    });
  }

  /** The first API that serves IPPools wins; [] when neither does (no Calico, or not its CRDs). */
  async listIpPools(): Promise<IpPoolInfo[]> {
    for (const api of IPPOOL_APIS) {
      const apiVersion = `${api.group}/${api.version}`;
      const list = await this.call({ kind: `ippools.${api.group}` }, async () => {
        try {
          return (await this.custom.listClusterCustomObject({ ...api }, this.options)) as unknown;
        } catch (err) {
          if (isNotFound(err)) return null;
          throw err;
        }
      });
      if (list !== null) return toIpPoolList(list, apiVersion);
    }
    return [];
  }

  async listCalicoNodes(): Promise<CalicoNodeInfo[] | null> {
    const list = await this.call({ kind: 'nodes.projectcalico.org' }, () =>
      this.listAll('projectcalico.org', 'v3', 'nodes'),
    );
    return list === null ? null : toCalicoNodeList(list);
  }

  async readKubeProxyConfig(): Promise<KubeProxyConfigInfo | null> {
    try {
      const cm = await this.core.readNamespacedConfigMap(
        { namespace: KUBE_PROXY_CONFIGMAP.namespace, name: KUBE_PROXY_CONFIGMAP.name },
        this.options,
      );
      return kubeProxyConfigFrom(cm.data);
    } catch (err) {
      // Absent (another installer, kube-proxy replaced by Calico eBPF) or not granted: nothing to compare with.
      if (err instanceof ApiException && (err.code === 404 || err.code === 403)) return null;
      throw translateKubeError(err, { kind: 'configmap', name: KUBE_PROXY_CONFIGMAP.name }, this.server);
    }
  }

  async listNamespaces(): Promise<NamespaceInfo[]> {
    const list = await this.call({ kind: 'namespace' }, () => this.core.listNamespace({}, this.options));
    return list.items.map(toNamespaceInfo);
  }

  /** null when the API is not served (404). */
  private async listAll(group: string, version: string, plural: string): Promise<unknown> {
    try {
      return (await this.custom.listClusterCustomObject({ group, version, plural }, this.options)) as unknown;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async listPolicyObjects(): Promise<PolicyObjects> {
    const out: PolicyObjects = { objects: [], read: [], errors: [] };
    await Promise.all(
      POLICY_APIS.map(async (api) => {
        const attempts =
          api.group === 'projectcalico.org'
            ? [
                { group: api.group, version: 'v3' },
                { group: CALICO_CRD_GROUP, version: 'v1' },
              ]
            : api.versions.map((version) => ({ group: api.group, version }));
        for (const { group, version } of attempts) {
          const apiVersion = `${group}/${version}`;
          try {
            const list = await this.call({ kind: `${api.plural}.${group}` }, () =>
              this.listAll(group, version, api.plural),
            );
            if (list === null) continue;
            out.objects.push(...itemsWithKind(list, apiVersion, api.kind));
            out.read.push(`${apiVersion} ${api.plural}`);
          } catch (err) {
            out.errors.push(`${apiVersion} ${api.plural}: ${(err as Error).message}`);
          }
          return;
        }
      }),
    );
    out.read.sort();
    return out;
  }

  /**
   * Each piece on its own: not served / not found (404) or forbidden (403) is an absent piece; anything else is
   * listed in `errors`. Never throws for one unreadable object.
   */
  async readCalicoConfig(): Promise<CalicoConfig> {
    const errors: string[] = [];
    const absent = (err: unknown) => err instanceof ApiException && (err.code === 404 || err.code === 403);
    const attempt = async <T>(what: string, fallback: T, request: () => Promise<T>): Promise<T> => {
      try {
        return await request();
      } catch (err) {
        if (!absent(err)) errors.push(`${what}: ${translateKubeError(err, { kind: what }, this.server).message}`);
        return fallback;
      }
    };
    const perNamespace = async (what: string, list: (namespace: string) => Promise<{ items: unknown[] }>) =>
      (
        await Promise.all(
          CALICO_NODE_NAMESPACES.map((namespace) =>
            attempt(`${what} in ${namespace}`, [] as unknown[], async () => (await list(namespace)).items),
          ),
        )
      ).flat();
    const selector = { labelSelector: 'k8s-app=calico-node' };
    const [daemonSets, calicoNodePods, controllerManagerPods, configMaps, installation, felix] = await Promise.all([
      perNamespace('daemonsets', (namespace) =>
        this.apps.listNamespacedDaemonSet({ namespace, ...selector }, this.options),
      ),
      perNamespace('pods', (namespace) =>
        this.core.listNamespacedPod({ namespace, ...selector, limit: 1 }, this.options),
      ),
      attempt(
        'kube-controller-manager pods',
        [] as unknown[],
        async () =>
          (
            await this.core.listNamespacedPod(
              { namespace: 'kube-system', labelSelector: 'component=kube-controller-manager' },
              this.options,
            )
          ).items,
      ),
      perNamespace('configmaps', (namespace) => this.core.listNamespacedConfigMap({ namespace }, this.options)),
      attempt(
        'installations.operator.tigera.io',
        null as unknown,
        () =>
          this.custom.getClusterCustomObject(
            { group: 'operator.tigera.io', version: 'v1', plural: 'installations', name: 'default' },
            this.options,
          ) as Promise<unknown>,
      ),
      (async () => {
        for (const api of FELIX_CONFIG_APIS) {
          const object = await attempt(
            `felixconfigurations.${api.group}`,
            null as unknown,
            () =>
              this.custom.getClusterCustomObject(
                { ...api, plural: 'felixconfigurations', name: 'default' },
                this.options,
              ) as Promise<unknown>,
          );
          if (object !== null) return { apiVersion: `${api.group}/${api.version}`, object };
        }
        return null;
      })(),
    ]);
    const raw: RawCalicoObjects = {
      daemonSets,
      calicoNodePods,
      controllerManagerPods,
      configMaps,
      installation,
      felix,
      errors,
    };
    return toCalicoConfig(raw);
  }
}

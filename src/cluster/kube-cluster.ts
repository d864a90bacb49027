/**
 * ClusterReader over @kubernetes/client-node 2.x: the one place the project talks to the Kubernetes API. Every call
 * has a deadline, every answer is mapped to our types by the pure functions in kube-objects.ts, and every failure
 * leaves as a K8snetError (kube-errors.ts).
 */
import { ApiException, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, Observable } from '@kubernetes/client-node';
import type { ConfigurationOptions, KubeConfig, ObservableMiddleware, RequestContext, ResponseContext } from '@kubernetes/client-node';
import type { ClusterReader, EndpointInfo, IpPoolInfo, NodeInfo, PodInfo, PodListOptions, ServiceInfo } from './types.ts';
import { loadKubeConfig, type KubeConfigOptions } from './kube-config.ts';
import { translateKubeError, type KubeTarget } from './kube-errors.ts';
import { SERVICE_NAME_LABEL, endpointsFromSlices, endpointsFromV1, toIpPoolList, toNodeInfo, toPodInfo, toServiceInfo } from './kube-objects.ts';

/** Per-request deadline: an API server answers reads in milliseconds; 15 s covers a slow control plane. */
export const KUBE_REQUEST_TIMEOUT_MS = 15_000;

/** Where Calico serves IPPools: its CRDs (always, with Calico), then the Calico API server (when installed). */
export const IPPOOL_APIS = [
  { group: 'crd.projectcalico.org', version: 'v1', plural: 'ippools' },
  { group: 'projectcalico.org', version: 'v3', plural: 'ippools' },
] as const;

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
  private readonly custom: CustomObjectsApi;
  private readonly requestTimeoutMs: number;

  constructor(kubeConfig: KubeConfig, options: KubeClusterOptions = {}) {
    this.server = kubeConfig.getCurrentCluster()?.server ?? '(no server)';
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
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
    const pod = await this.call({ kind: 'pod', namespace, name }, () => this.core.readNamespacedPod({ name, namespace }, this.options));
    return toPodInfo(pod);
  }

  async listPods(options: PodListOptions = {}): Promise<PodInfo[]> {
    const { namespace, labelSelector, fieldSelector } = options;
    const query = { ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) };
    const list = await this.call({ kind: 'pod', ...(namespace ? { namespace } : {}) }, () =>
      namespace ? this.core.listNamespacedPod({ namespace, ...query }, this.options) : this.core.listPodForAllNamespaces(query, this.options),
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
    return toServiceInfo(await this.call({ kind: 'service', namespace, name }, () => this.core.readNamespacedService({ name, namespace }, this.options)));
  }

  async listServices(namespace?: string): Promise<ServiceInfo[]> {
    const list = await this.call({ kind: 'service', ...(namespace ? { namespace } : {}) }, () =>
      namespace ? this.core.listNamespacedService({ namespace }, this.options) : this.core.listServiceForAllNamespaces({}, this.options),
    );
    return list.items.map(toServiceInfo);
  }

  /** EndpointSlices of the Service; v1 Endpoints when the cluster serves no slices for it (or no discovery.k8s.io/v1). */
  async listEndpoints(namespace: string, service: string): Promise<EndpointInfo[]> {
    const target: KubeTarget = { kind: 'endpoints', namespace, name: service };
    const slices = await this.call(target, async () => {
      try {
        return (await this.discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `${SERVICE_NAME_LABEL}=${service}` }, this.options)).items;
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
}

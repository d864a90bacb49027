/**
 * Where the Kubernetes client's settings come from: a kubeconfig file (or a PATH-style list of them, as KUBECONFIG
 * allows), the in-cluster service account, or the default (~/.kube/config). A file that cannot be read or parsed is
 * a `config` error naming it.
 */
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { K8snetError } from '../errors.ts';

export interface KubeConfigOptions {
  /** A kubeconfig path, or several joined with ':' as in KUBECONFIG. */
  path?: string | null;
  /** Use the pod's service account (KUBERNETES_SERVICE_HOST and /var/run/secrets/kubernetes.io/serviceaccount). */
  inCluster?: boolean;
  /** A context other than current-context. */
  context?: string | null;
}

function loadFile(kc: KubeConfig, file: string): void {
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new K8snetError(
      'config',
      `cannot load kubeconfig ${file}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

export function loadKubeConfig(options: KubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  if (options.inCluster) {
    try {
      kc.loadFromCluster();
    } catch (err) {
      throw new K8snetError(
        'config',
        `cannot load the in-cluster Kubernetes configuration: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  } else if (options.path) {
    const [first, ...rest] = options.path.split(delimiter).filter(Boolean);
    if (first === undefined) throw new K8snetError('config', 'KUBECONFIG is empty');
    loadFile(kc, first);
    for (const file of rest) {
      const more = new KubeConfig();
      loadFile(more, file);
      kc.mergeConfig(more, true);
    }
  } else {
    kc.loadFromDefault();
  }
  if (options.context) {
    if (!kc.getContextObject(options.context))
      throw new K8snetError('config', `kubeconfig has no context "${options.context}"`);
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster())
    throw new K8snetError(
      'config',
      'the kubeconfig names no current cluster (set current-context or K8SNET_KUBE_CONTEXT)',
    );
  return kc;
}

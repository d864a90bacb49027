/**
 * Builds the operations' dependencies for the CLI and the worker from the environment: the Kubernetes adapter,
 * the SSH node shell and the capture bounds. `--lab NAME` points all of it at a local lab (its kubeconfig, key
 * and known_hosts) without the user exporting anything.
 */
import { KubeCluster } from '../cluster/kube-cluster.ts';
import { SshNodeShell } from '../node/ssh-node-shell.ts';
import { SshPool } from '../node/ssh-pool.ts';
import { K8snetError } from '../errors.ts';
import {
  captureSettings,
  clustersFileSetting,
  ConfigError,
  kubeSettings,
  sshEnvSettings,
  type Env,
} from '../config.ts';
import { clusterEnv, findCluster, readClustersFile } from '../clusters/clusters-file.ts';
import type { OperationDeps } from '../ops/deps.ts';

export async function envForLab(lab: string | undefined, env: Env = process.env): Promise<Env> {
  if (lab === undefined) return env;
  // Loaded only when asked: the lab is a source-checkout tool, not in the image (.dockerignore).
  const { labClientEnv } = await import('../lab/lab-up.ts').catch(() => {
    throw new K8snetError('lab', '--lab needs a source checkout of k8snet (the lab is not part of this installation)');
  });
  return { ...env, ...(await labClientEnv(lab)) };
}

/** `--cluster NAME`: that cluster's settings from the clusters file, laid over the environment. */
export async function envForCluster(cluster: string | undefined | null, env: Env = process.env): Promise<Env> {
  if (!cluster) return env;
  const path = clustersFileSetting(env);
  if (!path)
    throw new ConfigError(
      'K8SNET_CLUSTERS_FILE',
      `is not set, so there is no cluster ${JSON.stringify(cluster)} (see .env.example)`,
    );
  const entry = findCluster(await readClustersFile(path), cluster);
  if (!entry) throw new ConfigError('K8SNET_CLUSTERS_FILE', `${path} has no cluster ${JSON.stringify(cluster)}`);
  return clusterEnv(entry, env);
}

export function depsFromEnv(env: Env): OperationDeps & { close(): Promise<void> } {
  const kube = kubeSettings(env);
  const ssh = sshEnvSettings(env);
  const cluster = KubeCluster.fromConfig({
    path: kube.kubeconfigPath,
    inCluster: kube.inCluster,
    context: kube.context,
  });
  const shell = new SshNodeShell(new SshPool(ssh));
  return { cluster, shell, capture: captureSettings(env), close: () => shell.close() };
}

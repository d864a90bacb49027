/**
 * The kubeconfig for the lab API server: one cluster (server URL + the lab CA inline), one user (bearer token), one
 * context `k8snet-<lab>` made current. Written mode 0600: it holds the token.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

export interface KubeconfigInput {
  lab: string;
  url: string;
  caCertPem: string;
  token: string;
  namespace?: string;
}

export function kubeconfigDocument(input: KubeconfigInput) {
  const name = `k8snet-${input.lab}`;
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name,
        cluster: { server: input.url, 'certificate-authority-data': Buffer.from(input.caCertPem).toString('base64') },
      },
    ],
    users: [{ name: `${name}-reader`, user: { token: input.token } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-reader`, namespace: input.namespace ?? 'default' } }],
    'current-context': name,
    preferences: {},
  };
}

export async function writeKubeconfig(path: string, input: KubeconfigInput): Promise<void> {
  await writeFile(path, stringify(kubeconfigDocument(input)), { mode: 0o600 });
  await chmod(path, 0o600); // writeFile's mode applies only to a new file
}

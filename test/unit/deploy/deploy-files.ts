/** Reading the deployment files (and the sources they must agree with) for the deploy tests. No I/O beyond reads. */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

export const root = fileURLToPath(new URL('../../..', import.meta.url));
export const read = (path: string): string => readFileSync(`${root}${path}`, 'utf8');

/** Every .ts file under a directory of the repository, as [path, text]. */
export function sources(dir: string): [string, string][] {
  return (readdirSync(`${root}${dir}`, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => [`${dir}/${f}`, read(`${dir}/${f}`)]);
}

export interface ManifestDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}

export function manifestDocs(): { file: string; doc: ManifestDoc }[] {
  return readdirSync(`${root}manifests`)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort()
    .flatMap((file) =>
      parseAllDocuments(read(`manifests/${file}`)).map((d) => ({ file, doc: d.toJS() as ManifestDoc })),
    );
}

export function manifest<T>(kind: string, name: string): T {
  const found = manifestDocs().find((d) => d.doc.kind === kind && d.doc.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in manifests/`);
  return found.doc as unknown as T;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string };
  };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface Deployment {
  metadata: { name: string };
  spec: {
    replicas: number;
    template: {
      spec: {
        serviceAccountName?: string;
        automountServiceAccountToken?: boolean;
        terminationGracePeriodSeconds?: number;
        containers: Container[];
        volumes?: {
          name: string;
          secret?: { secretName: string; optional?: boolean; items?: { key: string; path: string }[] };
          configMap?: { name: string };
          emptyDir?: object;
        }[];
      };
    };
  };
}

export const deployment = (name: 'k8snet-bot' | 'k8snet-worker'): Deployment =>
  manifest<Deployment>('Deployment', name);
export const configMapData = (): Record<string, string> =>
  manifest<{ data: Record<string, string> }>('ConfigMap', 'k8snet').data;
export const secretTemplate = (): Record<string, string> =>
  manifest<{ stringData: Record<string, string> }>('Secret', 'k8snet').stringData;

/** `NAME=` lines of .env.example. */
export function envExample(): Map<string, string> {
  return new Map([...read('.env.example').matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

export interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  env_file?: string | string[];
  volumes?: string[];
  stop_grace_period?: string;
  deploy?: { replicas?: number };
}

export const compose = (): { services: Record<string, ComposeService> } =>
  parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };

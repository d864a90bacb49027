/**
 * The policy lab (topologies/policy.yaml) and the REAL kubectl writing policies to its API server: apply (POST),
 * apply of a change (PATCH: strategic merge for NetworkPolicy, JSON merge for Calico's kinds), replace, delete,
 * -o yaml round trips, the topology's own policies present after lab up, and everything persisted to policies.json.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { LabState } from '../../../src/lab/state.ts';
import { labPaths } from '../../../src/lab/state.ts';
import { readPersistedPolicies } from '../../../src/lab/api-server/policy-store.ts';
import { run, startLab, stopLab, TOPOLOGIES } from '../../support/lab.ts';

const LAB = 'lppol';
const KUBECTL = '/usr/bin/kubectl';
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
let lab: LabState;

function kubectl(...args: string[]) {
  const paths = labPaths(LAB);
  return run(
    [KUBECTL, '--kubeconfig', paths.kubeconfig, '--cache-dir', join(paths.dir, 'kube-cache'), ...args],
    30_000,
  );
}

interface Listed {
  items: {
    apiVersion: string;
    kind: string;
    metadata: {
      name: string;
      namespace?: string;
      generation: number;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    };
    spec: Record<string, unknown>;
  }[];
}

beforeAll(async () => {
  lab = await startLab(LAB, TOPOLOGIES.policy);
}, 180_000);
afterAll(async () => {
  await stopLab(LAB);
}, 60_000);

describe('network policies in the lab API server, written by the real kubectl', () => {
  it("has the topology's policies after lab up, and namespaces with their labels", async () => {
    expect(lab.plan.pods.find((p) => p.name === 'pod-dest')!.namespace).toBe('payments');
    const listed = await kubectl('get', 'netpol', '-A');
    expect(listed.stderr).toBe('');
    expect(listed.stdout).toMatch(/^NAMESPACE\s+NAME\s+POD-SELECTOR\s+AGE\n/);
    expect(listed.stdout).toMatch(/^payments\s+allow-pod-src-to-dest\s+type=dest\s+\S+$/m);
    expect(listed.stdout).toMatch(/^payments\s+default-deny-ingress\s+<none>\s+\S+$/m);
    const ns = await kubectl('get', 'namespace', 'payments', '-o', 'jsonpath={.metadata.labels}');
    expect(JSON.parse(ns.stdout)).toEqual({
      team: 'payments',
      tier: 'backend',
      'kubernetes.io/metadata.name': 'payments',
    });
    const sa = await kubectl('get', 'pod', '-n', 'payments', 'pod-dest', '-o', 'jsonpath={.spec.serviceAccountName}');
    expect(sa.stdout).toBe('default');
  });

  it('applies a NetworkPolicy, applies a change by strategic merge PATCH, and reads it back equal in spec', async () => {
    const created = await kubectl('apply', '-f', fixture('allow-dns.yaml'));
    expect(created).toMatchObject({ code: 0, stdout: 'networkpolicy.networking.k8s.io/allow-dns created\n' });
    const changed = await kubectl('apply', '-f', fixture('allow-dns-changed.yaml'), '-v=8');
    expect(changed.code).toBe(0);
    expect(changed.stdout).toBe('networkpolicy.networking.k8s.io/allow-dns configured\n');
    expect(changed.stderr).toMatch(
      /PATCH https:\/\/127\.0\.0\.1:\d+\/apis\/networking\.k8s\.io\/v1\/namespaces\/default\/networkpolicies\/allow-dns\?fieldManager=kubectl-client-side-apply&fieldValidation=Strict/,
    );
    expect(changed.stderr).toContain('Content-Type: application/strategic-merge-patch+json');
    const again = await kubectl('apply', '-f', fixture('allow-dns-changed.yaml'));
    expect(again.stdout).toBe('networkpolicy.networking.k8s.io/allow-dns unchanged\n');

    const yaml = await kubectl('get', 'netpol', '-A', '-o', 'yaml');
    const got = (parseYaml(yaml.stdout) as Listed).items.find((i) => i.metadata.name === 'allow-dns')!;
    const want = parseYaml(await readFile(fixture('allow-dns-changed.yaml'), 'utf8')) as Listed['items'][number];
    expect(got.spec).toEqual(want.spec);
    expect(got.metadata).toMatchObject({ namespace: 'default', generation: 2, labels: { purpose: 'dns' } });
    expect(JSON.parse(got.metadata.annotations!['kubectl.kubernetes.io/last-applied-configuration']!)).toMatchObject({
      metadata: { labels: { purpose: 'dns' } },
    });
  });

  it('replaces with kubectl replace -f, deletes with kubectl delete -f, and says NotFound afterwards', async () => {
    const replaced = await kubectl('replace', '-f', fixture('allow-dns.yaml'));
    expect(replaced).toMatchObject({ code: 0, stdout: 'networkpolicy.networking.k8s.io/allow-dns replaced\n' });
    const ports = await kubectl('get', 'netpol', 'allow-dns', '-o', 'jsonpath={.spec.egress[0].ports[*].protocol}');
    expect(ports.stdout).toBe('UDP');
    const deleted = await kubectl('delete', '-f', fixture('allow-dns.yaml'));
    expect(deleted).toMatchObject({ code: 0, stdout: 'networkpolicy.networking.k8s.io "allow-dns" deleted\n' });
    const gone = await kubectl('get', 'netpol', 'allow-dns');
    expect(gone.stderr).toContain(
      'Error from server (NotFound): networkpolicies.networking.k8s.io "allow-dns" not found',
    );
  });

  it('refuses an invalid policy the way the API server does, before storing anything', async () => {
    const bad = await run([
      'sh',
      '-c',
      `sed 's/name: allow-dns/name: Allow_DNS/' ${fixture('allow-dns.yaml')} > /tmp/${LAB}-bad.yaml`,
    ]);
    expect(bad.code).toBe(0);
    const refused = await kubectl('apply', '-f', `/tmp/${LAB}-bad.yaml`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      'is invalid: metadata.name: Invalid value: "Allow_DNS": a lowercase RFC 1123 subdomain',
    );
    await run(['rm', '-f', `/tmp/${LAB}-bad.yaml`]);
  });

  it('applies Calico NetworkPolicy (crd.projectcalico.org/v1) and GlobalNetworkPolicy (projectcalico.org/v3), patches them by JSON merge patch, and lists them', async () => {
    const created = await kubectl('apply', '-f', fixture('calico-policies.yaml'));
    expect(created).toMatchObject({
      code: 0,
      stdout:
        'networkpolicy.crd.projectcalico.org/allow-src-web created\nglobalnetworkpolicy.projectcalico.org/deny-egress-to-metadata created\n',
    });
    const text = (await readFile(fixture('calico-policies.yaml'), 'utf8')).replace('order: 100', 'order: 150');
    const changed = await run(
      [
        'sh',
        '-c',
        `printf '%s' "$1" | ${KUBECTL} --kubeconfig ${labPaths(LAB).kubeconfig} --cache-dir ${join(labPaths(LAB).dir, 'kube-cache')} apply -v=8 -f -`,
        'sh',
        text,
      ],
      30_000,
    );
    expect(changed.stdout).toBe(
      'networkpolicy.crd.projectcalico.org/allow-src-web configured\nglobalnetworkpolicy.projectcalico.org/deny-egress-to-metadata unchanged\n',
    );
    expect(changed.stderr).toContain('Content-Type: application/merge-patch+json');

    const listed = await kubectl(
      'get',
      'networkpolicies.crd.projectcalico.org,globalnetworkpolicies.crd.projectcalico.org',
      '-A',
    );
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^payments\s+networkpolicy\.crd\.projectcalico\.org\/allow-src-web\s+\d{4}-/m);
    expect(listed.stdout).toMatch(
      /^\s+globalnetworkpolicy\.crd\.projectcalico\.org\/deny-egress-to-metadata\s+\d{4}-/m,
    );
    const v3 = parseYaml(
      (await kubectl('get', 'networkpolicies.projectcalico.org', '-n', 'payments', 'allow-src-web', '-o', 'yaml'))
        .stdout,
    ) as Listed['items'][number];
    expect(v3).toMatchObject({
      apiVersion: 'projectcalico.org/v3',
      kind: 'NetworkPolicy',
      metadata: { generation: 2 },
      spec: { order: 150, ingress: [{ action: 'Allow', destination: { ports: [80, '8000:8080'] } }] },
    });
    const gnp = parseYaml(
      (await kubectl('get', 'gnp', 'deny-egress-to-metadata', '-o', 'yaml')).stdout,
    ) as Listed['items'][number];
    expect(gnp.spec).toMatchObject({
      tier: 'default',
      types: ['Egress'],
      egress: [{ action: 'Deny' }, { action: 'Pass' }],
    });
    const deleted = await kubectl('delete', '-f', fixture('calico-policies.yaml'));
    expect(deleted.stdout).toBe(
      'networkpolicy.crd.projectcalico.org "allow-src-web" deleted\nglobalnetworkpolicy.projectcalico.org "deny-egress-to-metadata" deleted\n',
    );
  });

  it('has persisted every policy to the state dir for a reconciler in another process', async () => {
    await kubectl('apply', '-f', fixture('calico-policies.yaml'));
    const persisted = await readPersistedPolicies(labPaths(LAB).policies);
    expect(
      persisted.policies
        .map((p) => `${p.family} ${p.object.metadata.namespace ?? ''}/${p.object.metadata.name}`)
        .sort(),
    ).toEqual([
      'calico payments/allow-src-web',
      'calico-global /deny-egress-to-metadata',
      'kubernetes payments/allow-pod-src-to-dest',
      'kubernetes payments/default-deny-ingress',
    ]);
    expect(Number(persisted.resourceVersion)).toBeGreaterThan(1_000_000);
  });
});

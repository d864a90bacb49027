import { describe, expect, it } from '@jest/globals';
import { DEFAULT_TOPOLOGY_PATH, loadTopology } from '../../../../src/lab/topology.ts';
import { planLab } from '../../../../src/lab/plan.ts';
import { routeRequest, type RouteContext } from '../../../../src/lab/api-server/router.ts';
import { PolicyStore, type PolicyChange } from '../../../../src/lab/api-server/policy-store.ts';
import { checkAgainstSchema, validateObjectName } from '../../../../src/lab/api-server/validation.ts';
import { openApiDocument, openApiIndex } from '../../../../src/lab/api-server/openapi.ts';

const plan = planLab(await loadTopology(DEFAULT_TOPOLOGY_PATH), { lab: 'lab', nodeSubnet: '10.254.7.0/24' });
const TOKEN = 'f'.repeat(64);
const NP = '/apis/networking.k8s.io/v1/namespaces/default/networkpolicies';

function setup() {
  const policies = new PolicyStore(null, undefined, () => new Date('2025-05-01T10:30:00Z'));
  const ctx: RouteContext = {
    objects: { plan, createdAt: new Date('2025-05-01T10:00:00Z'), kernelVersion: '6.8.0', policies },
    token: TOKEN,
    serverAddress: '127.0.0.1:6443',
    now: new Date('2025-05-01T11:00:00Z'),
  };
  const send = (method: string, url: string, body?: unknown, contentType = 'application/json') => {
    const res = routeRequest(
      {
        method,
        url,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': contentType },
        body: body === undefined ? '' : JSON.stringify(body),
      },
      ctx,
    );
    return { status: res.status, body: JSON.parse(res.body) as Record<string, any>, warnings: res.warnings }; // eslint-disable-line @typescript-eslint/no-explicit-any -- test reads arbitrary JSON paths
  };
  return { policies, send };
}

const denyAll = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'deny', namespace: 'default' },
  spec: { podSelector: {} },
};

describe('NetworkPolicy writes', () => {
  it('creates with uid, resourceVersion, generation and the server defaults, then 409s a second create', () => {
    const { send } = setup();
    const created = send('POST', NP, denyAll);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      kind: 'NetworkPolicy',
      metadata: {
        name: 'deny',
        namespace: 'default',
        generation: 1,
        resourceVersion: '1000001',
        creationTimestamp: '2025-05-01T10:30:00Z',
      },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    });
    expect(created.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(send('POST', NP, denyAll)).toMatchObject({
      status: 409,
      body: { reason: 'AlreadyExists', message: 'networkpolicies.networking.k8s.io "deny" already exists' },
    });
  });

  it('patches by strategic merge, bumps generation only when spec changes, and refuses a stale resourceVersion on replace', () => {
    const { send } = setup();
    send('POST', NP, denyAll);
    const patched = send(
      'PATCH',
      `${NP}/deny`,
      { spec: { egress: [{ ports: [{ port: 53 }] }], policyTypes: ['Egress'] } },
      'application/strategic-merge-patch+json',
    );
    expect(patched).toMatchObject({
      status: 200,
      body: {
        metadata: { generation: 2, resourceVersion: '1000002' },
        spec: { egress: [{ ports: [{ port: 53, protocol: 'TCP' }] }], policyTypes: ['Egress'] },
      },
    });
    const labelled = send(
      'PATCH',
      `${NP}/deny`,
      [{ op: 'add', path: '/metadata/labels', value: { a: 'b' } }],
      'application/json-patch+json',
    );
    expect(labelled.body.metadata).toMatchObject({ generation: 2, labels: { a: 'b' } });
    const stale = send('PUT', `${NP}/deny`, {
      ...denyAll,
      metadata: { ...denyAll.metadata, resourceVersion: '1000001' },
    });
    expect(stale).toMatchObject({ status: 409, body: { reason: 'Conflict' } });
  });

  it('answers 422 Invalid with causes for a bad name, a missing name and a wrong type; 400 for a namespace mismatch', () => {
    const { send } = setup();
    const bad = send('POST', NP, {
      ...denyAll,
      metadata: { name: 'Bad_Name' },
      spec: { podSelector: {}, policyTypes: 'Ingress' },
    });
    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({
      reason: 'Invalid',
      details: { name: 'Bad_Name', group: 'networking.k8s.io', kind: 'NetworkPolicy' },
    });
    expect(bad.body.details.causes.map((c: { field: string }) => c.field)).toEqual([
      'metadata.name',
      'spec.policyTypes',
    ]);
    expect(bad.body.message).toMatch(
      /^NetworkPolicy\.networking\.k8s\.io "Bad_Name" is invalid: \[metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/,
    );
    expect(send('POST', NP, { ...denyAll, metadata: {} }).body.details.causes).toEqual([
      {
        reason: 'FieldValueRequired',
        field: 'metadata.name',
        message: 'Required value: name or generateName is required',
      },
    ]);
    expect(send('POST', NP, { ...denyAll, metadata: { name: 'x', namespace: 'kube-system' } })).toMatchObject({
      status: 400,
      body: { message: 'the namespace of the provided object does not match the namespace sent on the request' },
    });
    expect(
      send('POST', '/apis/networking.k8s.io/v1/namespaces/nope/networkpolicies', {
        ...denyAll,
        metadata: { name: 'x' },
      }),
    ).toMatchObject({ status: 404, body: { message: 'namespaces "nope" not found' } });
  });

  it('refuses unknown fields under fieldValidation=Strict, warns under Warn, and lets odd but well-formed policies through', () => {
    const { send } = setup();
    const typo = { ...denyAll, spec: { podSelector: {}, ingres: [] } };
    expect(send('POST', `${NP}?fieldValidation=Strict`, typo)).toMatchObject({
      status: 400,
      body: { message: 'strict decoding error: unknown field "spec.ingres"' },
    });
    const warned = send('POST', `${NP}?fieldValidation=Warn`, typo);
    expect(warned).toMatchObject({ status: 201, warnings: ['unknown field "spec.ingres"'] });
    expect(warned.body.spec.ingres).toBeUndefined();
    const odd = {
      ...denyAll,
      metadata: { name: 'odd' },
      spec: {
        podSelector: { matchExpressions: [{ key: 'x', operator: 'Exists' }] },
        ingress: [{}, { from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] } }] }],
      },
    };
    expect(send('POST', `${NP}?fieldValidation=Strict`, odd).status).toBe(201);
  });

  it('dry-runs without storing, deletes with a Success Status, and 404s what is gone', () => {
    const { send, policies } = setup();
    expect(send('POST', `${NP}?dryRun=All`, denyAll).status).toBe(201);
    expect(policies.list('kubernetes')).toEqual([]);
    const { body } = send('POST', `${NP}?fieldManager=kubectl-client-side-apply`, denyAll);
    expect(send('DELETE', `${NP}/deny`)).toEqual({
      status: 200,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name: 'deny', group: 'networking.k8s.io', kind: 'networkpolicies', uid: body.metadata.uid },
      },
      warnings: undefined,
    });
    expect(send('DELETE', `${NP}/deny`)).toMatchObject({
      status: 404,
      body: { reason: 'NotFound', message: 'networkpolicies.networking.k8s.io "deny" not found' },
    });
    expect(send('PATCH', `${NP}/deny`, {}, 'application/merge-patch+json').status).toBe(404);
  });
});

describe('Calico policy writes', () => {
  it('stores one object for crd.projectcalico.org/v1 and projectcalico.org/v3, refuses strategic merge, and emits changes', () => {
    const { send, policies } = setup();
    const changes: PolicyChange[] = [];
    policies.on('change', (c) => changes.push(c));
    const gnp = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'deny-all' },
      spec: { selector: 'all()', egress: [{ action: 'Deny' }] },
    };
    expect(send('POST', '/apis/projectcalico.org/v3/globalnetworkpolicies', gnp).body.spec).toEqual({
      selector: 'all()',
      egress: [{ action: 'Deny' }],
      tier: 'default',
      types: ['Egress'],
    });
    const asCrd = send('GET', '/apis/crd.projectcalico.org/v1/globalnetworkpolicies/deny-all');
    expect(asCrd.body).toMatchObject({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'GlobalNetworkPolicy',
      spec: { selector: 'all()' },
    });
    expect(
      send(
        'PATCH',
        '/apis/crd.projectcalico.org/v1/globalnetworkpolicies/deny-all',
        { spec: { order: 10 } },
        'application/strategic-merge-patch+json',
      ),
    ).toMatchObject({ status: 415, body: { reason: 'UnsupportedMediaType' } });
    expect(
      send(
        'PATCH',
        '/apis/crd.projectcalico.org/v1/globalnetworkpolicies/deny-all',
        { spec: { order: 10 } },
        'application/merge-patch+json',
      ).body.spec.order,
    ).toBe(10);
    const noAction = {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'x' },
      spec: { ingress: [{ protocol: 'TCP' }] },
    };
    expect(
      send('POST', '/apis/crd.projectcalico.org/v1/namespaces/default/networkpolicies', noAction).body.details.causes,
    ).toEqual([{ reason: 'FieldValueRequired', field: 'spec.ingress[0].action', message: 'Required value' }]);
    expect(changes.map((c) => `${c.type} ${c.family} ${c.object.metadata.name}`)).toEqual([
      'ADDED calico-global deny-all',
      'MODIFIED calico-global deny-all',
    ]);
  });
});

describe('validation and /openapi/v3', () => {
  it('checks names as DNS-1123 subdomains and types against the schema', () => {
    expect(validateObjectName('a.b-c', undefined)).toEqual([]);
    expect(validateObjectName(undefined, 'gen-')).toEqual([]);
    expect(validateObjectName('x'.repeat(254), undefined)[0]!.message).toContain('must be no more than 253 characters');
    const check = checkAgainstSchema('io.k8s.api.networking.v1.NetworkPolicy', {
      spec: { podSelector: {}, ingress: [{ ports: [{ port: 'http', endPort: 'x', protocol: 'ICMP' }] }] },
    });
    expect(check.causes.map((c) => `${c.field} ${c.reason}`)).toEqual([
      'spec.ingress[0].ports[0].endPort FieldValueTypeInvalid',
      'spec.ingress[0].ports[0].protocol FieldValueNotSupported',
    ]);
  });

  it('publishes a PATCH with fieldValidation per kind, strategic merge only for the built-in kind', () => {
    expect(Object.keys(openApiIndex().paths)).toEqual([
      'apis/networking.k8s.io/v1',
      'apis/crd.projectcalico.org/v1',
      'apis/projectcalico.org/v3',
    ]);
    const patchOf = (key: string, path: string) =>
      (
        openApiDocument(key)!.paths as Record<
          string,
          { patch: { parameters: { name: string }[]; requestBody: { content: object } } }
        >
      )[path]!.patch;
    const np = patchOf(
      'apis/networking.k8s.io/v1',
      '/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies/{name}',
    );
    expect(np.parameters.map((p) => p.name)).toContain('fieldValidation');
    expect(Object.keys(np.requestBody.content)).toContain('application/strategic-merge-patch+json');
    const gnp = patchOf('apis/crd.projectcalico.org/v1', '/apis/crd.projectcalico.org/v1/globalnetworkpolicies/{name}');
    expect(Object.keys(gnp.requestBody.content)).not.toContain('application/strategic-merge-patch+json');
  });
});

import { describe, expect, it } from '@jest/globals';
import { DEFAULT_TOPOLOGY_PATH, loadTopology } from '../../../../src/lab/topology.ts';
import { planLab } from '../../../../src/lab/plan.ts';
import { authenticate, routeRequest, wantsTable, type RouteContext } from '../../../../src/lab/api-server/router.ts';

const plan = planLab(await loadTopology(DEFAULT_TOPOLOGY_PATH), { lab: 'lab', nodeSubnet: '10.254.7.0/24' });
const TOKEN = 'f'.repeat(64);
const ctx: RouteContext = {
  objects: { plan, createdAt: new Date('2025-05-01T10:00:00Z'), kernelVersion: '6.8.0' },
  token: TOKEN,
  serverAddress: '127.0.0.1:6443',
  now: new Date('2025-05-01T11:00:00Z'),
};
const TABLE_ACCEPT =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

function get(
  url: string,
  headers: { accept?: string; authorization?: string } = { authorization: `Bearer ${TOKEN}` },
  method = 'GET',
) {
  const res = routeRequest({ method, url, headers }, ctx);
  return { status: res.status, body: res.contentType.startsWith('application/json') ? JSON.parse(res.body) : res.body };
}

describe('authentication', () => {
  it('answers a request without a token with the 401 Status Kubernetes returns', () => {
    expect(get('/api/v1/pods', {})).toEqual({
      status: 401,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Unauthorized',
        reason: 'Unauthorized',
        code: 401,
      },
    });
  });

  it('rejects a wrong token even on public paths, and lets anonymous clients read only health and version', () => {
    expect(get('/healthz', { authorization: 'Bearer nope' }).status).toBe(401);
    expect(get('/healthz', {})).toEqual({ status: 200, body: 'ok' });
    expect(get('/version', {}).body.gitVersion).toBe('v1.32.4');
    expect(authenticate(`Bearer ${TOKEN}`, TOKEN)).toBe('ok');
    expect(authenticate(`Basic ${TOKEN}`, TOKEN)).toBe('rejected');
  });
});

describe('discovery', () => {
  it('announces the core version, the groups incl. Calico and discovery.k8s.io, and the resources', () => {
    expect(get('/api').body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const groups = get('/apis').body.groups.map((g: { name: string }) => g.name);
    expect(groups).toEqual(
      expect.arrayContaining(['crd.projectcalico.org', 'discovery.k8s.io', 'apiextensions.k8s.io']),
    );
    const core = get('/api/v1').body;
    expect(core).toMatchObject({ kind: 'APIResourceList', groupVersion: 'v1' });
    expect(core.resources.find((r: { name: string }) => r.name === 'pods')).toEqual({
      name: 'pods',
      singularName: 'pod',
      namespaced: true,
      kind: 'Pod',
      verbs: ['get', 'list'],
      shortNames: ['po'],
      categories: ['all'],
    });
    expect(get('/apis/crd.projectcalico.org/v1').body.resources).toContainEqual({
      name: 'ippools',
      singularName: 'ippool',
      namespaced: false,
      kind: 'IPPool',
      verbs: ['get', 'list'],
    });
    expect(get('/apis/nope.example.com/v1').status).toBe(404);
  });
});

describe('list and get', () => {
  it('lists pods in all namespaces and in one, filtered by label and field selectors', () => {
    expect(get('/api/v1/pods').body).toMatchObject({ kind: 'PodList', apiVersion: 'v1' });
    // 3 in default; kube-system: kube-controller-manager, and calico-node and kube-proxy on each of the 2 nodes.
    expect(get('/api/v1/pods').body.items).toHaveLength(3 + 1 + 2 * 2);
    const names = (url: string) => get(url).body.items.map((p: { metadata: { name: string } }) => p.metadata.name);
    expect(names('/api/v1/namespaces/default/pods?labelSelector=type%3Ddest')).toEqual(['pod-dest']);
    expect(names('/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3Dk8s-node1')).toEqual([
      'pod-dest',
      'pod-pause',
    ]);
    expect(names('/api/v1/pods?fieldSelector=spec.nodeName%3Dk8s-node1,spec.hostNetwork%3Dtrue')).toHaveLength(3);
    expect(names('/api/v1/namespaces/other/pods')).toEqual([]);
    expect(
      names(
        '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dsvc-nodeport',
      ),
    ).toHaveLength(1);
  });

  it('gets one object with its kind and apiVersion', () => {
    expect(get('/api/v1/namespaces/default/pods/pod-src').body).toMatchObject({
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name: 'pod-src' },
    });
    expect(get('/api/v1/nodes/k8s-node2').body.kind).toBe('Node');
    expect(get('/api/v1/namespaces/default').body.kind).toBe('Namespace');
    expect(get('/apis/crd.projectcalico.org/v1/ippools/default-ipv4-ippool').body).toMatchObject({
      kind: 'IPPool',
      apiVersion: 'crd.projectcalico.org/v1',
    });
  });

  it("answers a missing object with Kubernetes' NotFound Status", () => {
    expect(get('/api/v1/namespaces/default/pods/x')).toEqual({
      status: 404,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'pods "x" not found',
        reason: 'NotFound',
        details: { name: 'x', kind: 'pods' },
        code: 404,
      },
    });
    expect(get('/apis/crd.projectcalico.org/v1/ippools/x').body.message).toBe(
      'ippools.crd.projectcalico.org "x" not found',
    );
    expect(get('/api/v1/widgets').body.message).toBe('the server could not find the requested resource');
  });

  it('answers a bad selector with 400 BadRequest and a write with 405 MethodNotAllowed', () => {
    expect(get('/api/v1/pods?labelSelector=a%20in%20(b').body).toMatchObject({ reason: 'BadRequest', code: 400 });
    expect(get('/api/v1/pods?fieldSelector=spec.foo%3D1').body).toMatchObject({
      reason: 'BadRequest',
      message: 'field label not supported: spec.foo',
    });
    expect(
      get('/api/v1/namespaces/default/pods/pod-src', { authorization: `Bearer ${TOKEN}` }, 'DELETE').body,
    ).toMatchObject({ reason: 'MethodNotAllowed', code: 405 });
  });

  it('returns a meta.k8s.io/v1 Table when kubectl asks for one', () => {
    expect(wantsTable(TABLE_ACCEPT)).toBe(true);
    expect(wantsTable('application/json')).toBe(false);
    const table = get('/api/v1/pods', { accept: TABLE_ACCEPT, authorization: `Bearer ${TOKEN}` }).body;
    expect(table).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1' });
    const src = table.rows.find((r: { cells: string[] }) => r.cells[0] === 'pod-src');
    expect(src.cells).toEqual([
      'pod-src',
      '1/1',
      'Running',
      '0',
      '60m',
      plan.pods.find((p) => p.name === 'pod-src')!.ip,
      'k8s-node2',
      '<none>',
      '<none>',
    ]);
    expect(src.object.metadata.namespace).toBe('default');
  });
});

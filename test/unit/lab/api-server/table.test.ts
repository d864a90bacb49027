import { describe, expect, it } from '@jest/globals';
import { DEFAULT_TOPOLOGY_PATH, loadTopology } from '../../../../src/lab/topology.ts';
import { planLab } from '../../../../src/lab/plan.ts';
import { buildNode, buildPod, buildService, type ObjectContext } from '../../../../src/lab/api-server/objects.ts';
import { TABLE_PRINTERS, humanDuration, toTable } from '../../../../src/lab/api-server/table.ts';

const plan = planLab(await loadTopology(DEFAULT_TOPOLOGY_PATH), { lab: 'lab', nodeSubnet: '10.254.7.0/24' });
const createdAt = new Date('2025-05-01T10:00:00Z');
const now = new Date('2025-05-01T10:05:12Z');
const ctx: ObjectContext = { plan, createdAt, kernelVersion: '6.8.0-31-generic' };

describe('AGE like kubectl (apimachinery HumanDuration)', () => {
  it.each([
    [45_000, '45s'],
    [119_000, '119s'],
    [312_000, '5m12s'],
    [600_000, '10m'],
    [3 * 3600_000 + 60_000, '3h1m'],
    [30 * 3600_000, '30h'],
    [4 * 86400_000 + 3 * 3600_000, '4d3h'],
    [400 * 86400_000, '400d'],
    [-5000, '<invalid>'],
  ])('%d ms reads %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

describe('Table rows', () => {
  it('print a pod as kubectl does, with IP and node in the wide (priority 1) columns', () => {
    const pod = plan.pods.find((p) => p.name === 'pod-pause')!;
    const printer = TABLE_PRINTERS.pods;
    expect(printer.columns.map((c) => [c.name, c.priority])).toEqual([
      ['Name', 0],
      ['Ready', 0],
      ['Status', 0],
      ['Restarts', 0],
      ['Age', 0],
      ['IP', 1],
      ['Node', 1],
      ['Nominated Node', 1],
      ['Readiness Gates', 1],
    ]);
    expect(printer.cells(buildPod(ctx, pod), now)).toEqual([
      'pod-pause',
      '2/2',
      'Running',
      '0',
      '5m12s',
      pod.ip,
      'k8s-node1',
      '<none>',
      '<none>',
    ]);
  });

  it('print a node with its InternalIP and container runtime', () => {
    expect(TABLE_PRINTERS.nodes.cells(buildNode(ctx, plan.nodes[1]!), now)).toEqual([
      'k8s-node2',
      'Ready',
      '<none>',
      '5m12s',
      'v1.32.4',
      '10.254.7.12',
      '<none>',
      'Ubuntu 24.04.2 LTS',
      '6.8.0-31-generic',
      'containerd://1.7.24',
    ]);
  });

  it('print a NodePort service as port:nodePort/protocol with its selector', () => {
    const svc = plan.services.find((s) => s.name === 'svc-nodeport')!;
    expect(TABLE_PRINTERS.services.cells(buildService(ctx, svc), now)).toEqual([
      'svc-nodeport',
      'NodePort',
      svc.clusterIP,
      '<none>',
      '8080:31080/TCP',
      '5m12s',
      'type=dest',
    ]);
  });

  it('carry partial object metadata per row by default, the whole object on includeObject=Object', () => {
    const node = buildNode(ctx, plan.nodes[0]!);
    const opts = { now, apiVersion: 'v1', kind: 'Node', resourceVersion: '7' };
    const table = toTable(TABLE_PRINTERS.nodes, [node], { ...opts, includeObject: 'Metadata' });
    expect(table).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: '7' } });
    expect((table.rows as { object: unknown }[])[0]!.object).toEqual({
      kind: 'PartialObjectMetadata',
      apiVersion: 'meta.k8s.io/v1',
      metadata: node.metadata,
    });
    const full = toTable(TABLE_PRINTERS.nodes, [node], { ...opts, includeObject: 'Object' });
    expect((full.rows as { object: { kind: string } }[])[0]!.object.kind).toBe('Node');
  });
});

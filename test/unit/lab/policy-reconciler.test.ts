import { describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { loadTopology } from '../../../src/lab/topology.ts';
import { planLab } from '../../../src/lab/plan.ts';
import { PolicyStore } from '../../../src/lab/api-server/policy-store.ts';
import type { KubeObject } from '../../../src/lab/api-server/objects.ts';
import { PolicyReconciler, storeObjects } from '../../../src/lab/policy-reconciler.ts';
import { GNP_DENY_SRC } from '../../support/felix-policies.ts';

const topology = await loadTopology(fileURLToPath(new URL('../../../src/lab/topologies/policy.yaml', import.meta.url)));
/** A written object before the store fills uid, resourceVersion and creationTimestamp in (store.create does). */
const asWritten = (o: object) => o as unknown as KubeObject;
const plan = planLab(topology, { lab: 'rcrec', nodeSubnet: '10.254.79.0/24' });

/** A node's filter table as a fake iptables keeps it: the last restore input per namespace, echoed by iptables-save. */
function fakeIptables() {
  const tables = new Map<string, string[]>();
  const calls: string[][] = [];
  const run = async (argv: readonly string[], options?: { input?: string }) => {
    calls.push([...argv]);
    const netns = argv[3]!;
    const tool = argv[4];
    if (tool === 'iptables-save')
      return {
        stdout: [
          '*filter',
          ':INPUT ACCEPT [0:0]',
          ':FORWARD ACCEPT [0:0]',
          ...(tables.get(netns) ?? []),
          'COMMIT',
          '',
        ].join('\n'),
      };
    // Apply the restore the way --noflush does: declared chains are flushed, rules appended, -X removes, -I inserts.
    const lines = tables.get(netns) ?? [];
    const input = options?.input ?? '';
    let kept = [...lines];
    for (const l of input.split('\n')) {
      const declared = /^:(\S+) - /.exec(l);
      if (declared)
        kept = kept
          .filter((x) => !x.startsWith(`-A ${declared[1]} `) && x !== `:${declared[1]} - [0:0]`)
          .concat(`:${declared[1]} - [0:0]`);
      else if (l.startsWith('-A ')) kept.push(l);
      else if (/^-I (FORWARD|INPUT) 1 /.test(l)) kept.push(l.replace(/^-I (\S+) 1 /, '-A $1 '));
      else if (l.startsWith('-X ')) kept = kept.filter((x) => x !== `:${l.slice(3)} - [0:0]`);
    }
    tables.set(netns, kept);
    return { stdout: '' };
  };
  return { run, calls, restores: () => calls.filter((c) => c[4] === 'iptables-restore') };
}

describe('the lab policy reconciler', () => {
  it('hands normalizePolicies the store objects with apiVersion and kind restored', () => {
    const store = new PolicyStore(null);
    store.create('calico-global', asWritten({ metadata: { name: 'deny-src-to-dest' }, spec: GNP_DENY_SRC.spec }));
    store.create(
      'kubernetes',
      asWritten({ metadata: { name: 'x', namespace: 'payments' }, spec: { podSelector: {} } }),
    );
    expect(storeObjects(store).map((o) => [o.apiVersion, o.kind, o.metadata.name])).toEqual([
      ['networking.k8s.io/v1', 'NetworkPolicy', 'x'],
      ['projectcalico.org/v3', 'GlobalNetworkPolicy', 'deny-src-to-dest'],
    ]);
  });

  it('programs every node at start, coalesces a burst of writes into one run, and leaves unchanged nodes alone', async () => {
    const store = new PolicyStore(null);
    const ipt = fakeIptables();
    const log: string[] = [];
    const r = new PolicyReconciler({
      plan,
      store,
      statusPath: null,
      log: (l) => log.push(l),
      run: ipt.run,
      debounceMs: 20,
    });
    await r.start();
    expect(ipt.restores().map((c) => c[3])).toEqual(plan.nodes.map((n) => n.netns));
    for (const d of topology.policyDocuments) store.create('kubernetes', asWritten(d.object));
    await r.idle();
    const node1 = plan.nodes.find((n) => n.name === 'k8s-node1')!;
    // One more restore, on the node that has pod-dest only.
    expect(ipt.restores().map((c) => c[3])).toEqual([...plan.nodes.map((n) => n.netns), node1.netns]);
    expect(r.last).toMatchObject({ resourceVersion: store.resourceVersion, error: null });
    expect(log.at(-1)).toMatch(/2 policies at resourceVersion \d+: k8s-node1 wrote 3 chains .*; k8s-node2 unchanged/);
    store.update('kubernetes', {
      ...store.get('kubernetes', 'payments', 'default-deny-ingress')!,
      metadata: { ...store.get('kubernetes', 'payments', 'default-deny-ingress')!.metadata, labels: { a: 'b' } },
    });
    await r.idle();
    expect(ipt.restores()).toHaveLength(3); // a label change renders the same chains: nothing written
    r.stop();
  });

  it('reports a failing node in its status instead of throwing', async () => {
    const store = new PolicyStore(null);
    const r = new PolicyReconciler({
      plan,
      store,
      statusPath: null,
      log: () => undefined,
      run: async () => Promise.reject(new Error('no such netns')),
      debounceMs: 5,
    });
    await r.start();
    expect(r.last?.error).toContain('no such netns');
    r.stop();
  });
});

/**
 * The lab enforces network policy the way Felix does: policies written with the real kubectl (apply -f / delete -f)
 * reach the nodes' filter tables through the lab API server's reconciler, and real TCP connects from the pods'
 * namespaces are let through or dropped accordingly — within 2 seconds of the write.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import type { LabState } from '../../../src/lab/state.ts';
import { labPaths } from '../../../src/lab/state.ts';
import { parseIptablesSave } from '../../../src/parse/iptables-save.ts';
import { policyProgrammed, walkFelixChains } from '../../../src/calico/felix-chains.ts';
import { inNetns, run, startLab, stopLab, TOPOLOGIES } from '../../support/lab.ts';
import {
  ALLOW_OTHER_NAMED_PORT,
  DENY_EGRESS_DEFAULT,
  GNP_DENY_SRC,
  PASS_OTHER,
  allowPoolExcept,
} from '../../support/felix-policies.ts';

const LAB = 'rcpol';
const KUBECTL = '/usr/bin/kubectl';
/** The brief's bound: a policy write is enforced within 2 s. */
const ENFORCED_WITHIN_MS = 2000;
/** A connect that has not completed in 1 s on a lab link is dropped (a SYN retry comes only after 1 s). */
const CONNECT_TIMEOUT_S = '1';
const POLL_MS = 50;
const POLICIES_DIR = join(dirname(TOPOLOGIES.policy), 'policies');

let lab: LabState;
let dir: string;
const pod = (name: string) => lab.plan.pods.find((p) => p.name === name)!;
const nodeOf = (name: string) => lab.plan.nodes.find((n) => n.name === pod(name).node)!;

async function kubectl(...args: string[]) {
  const r = await run(
    [KUBECTL, '--kubeconfig', labPaths(LAB).kubeconfig, '--cache-dir', join(dir, 'kube-cache'), ...args],
    30_000,
  );
  expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
  return r.stdout;
}

let files = 0;
async function manifest(object: object): Promise<string> {
  const path = join(dir, `policy-${files++}.yaml`);
  await writeFile(path, stringify(object));
  return path;
}

/** A real TCP connect from the pod's namespace (bash's /dev/tcp), bounded by timeout(1). */
async function connects(from: string, to: string, port: number): Promise<boolean> {
  const r = await run(
    inNetns(pod(from).netnsName, [
      'timeout',
      CONNECT_TIMEOUT_S,
      'bash',
      '-c',
      `exec 3<>/dev/tcp/${pod(to).ip}/${port}`,
    ]),
    5000,
  );
  return r.code === 0;
}

/** Polls the connect until it gives `want`; returns how long that took after `since`, or fails past the bound. */
async function becomes(want: boolean, from: string, to: string, port: number, since: number): Promise<number> {
  for (;;) {
    if ((await connects(from, to, port)) === want) return Date.now() - since;
    if (Date.now() - since > ENFORCED_WITHIN_MS)
      throw new Error(
        `${from} → ${to}:${port} still ${want ? 'fails' : 'connects'} ${ENFORCED_WITHIN_MS} ms after the write`,
      );
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function filterOf(nodeNetns: string) {
  const r = await run(inNetns(nodeNetns, ['iptables-save', '-c', '-t', 'filter']));
  expect(r.code).toBe(0);
  return parseIptablesSave(r.stdout).tables.get('filter')!;
}

/** Polls pod-dest's node until its ingress chain jumps to `count` policies; ms since `since`. */
async function programmedWithin(count: number, since: number): Promise<number> {
  for (;;) {
    const walk = walkFelixChains(await filterOf(nodeOf('pod-dest').netns), pod('pod-dest').caliInterface);
    if (walk.ingress.policies.length === count) return Date.now() - since;
    if (Date.now() - since > ENFORCED_WITHIN_MS)
      throw new Error(
        `pod-dest's ingress chain has ${walk.ingress.policies.length} policies, not ${count}, ${ENFORCED_WITHIN_MS} ms after the write`,
      );
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function noPolicyDropPackets(podName: string): Promise<number> {
  const walk = walkFelixChains(await filterOf(nodeOf(podName).netns), pod(podName).caliInterface);
  const drop = walk.ingress.noPolicyDrops[0];
  expect(drop?.counters).toBeTruthy();
  return drop!.counters!.packets;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8snet-rc-'));
  lab = await startLab(LAB, TOPOLOGIES.policy);
}, 120_000);
afterAll(async () => {
  await stopLab(LAB);
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('the lab enforces policy as Felix does', () => {
  it("lets pod-src reach pod-dest:80 and drops pod-other's connect, counted by the no-policy drop rule", async () => {
    expect(await connects('pod-src', 'pod-dest', 80)).toBe(true);
    const before = await noPolicyDropPackets('pod-dest');
    expect(await connects('pod-other', 'pod-dest', 80)).toBe(false);
    expect(await noPolicyDropPackets('pod-dest')).toBeGreaterThan(before);
  });

  it("programs chains the Felix walk recognises on the node itself (policyProgrammed for the topology's policies)", async () => {
    const walk = walkFelixChains(await filterOf(nodeOf('pod-dest').netns), pod('pod-dest').caliInterface);
    for (const name of ['allow-pod-src-to-dest', 'default-deny-ingress']) {
      const answer = policyProgrammed(walk, {
        direction: 'ingress',
        kind: 'KubernetesNetworkPolicy',
        namespace: 'payments',
        name,
      });
      expect({ name, programmed: answer.programmed, chainExists: answer.match?.chainExists }).toEqual({
        name,
        programmed: true,
        chainExists: true,
      });
    }
    expect(walk.ingress.forwardEntry).not.toBeNull();
  });

  it('kubectl delete -f of the policies lets pod-other in within 2 s, and apply -f shuts it out again', async () => {
    // Deleting default-deny alone is not enough: allow-pod-src-to-dest still selects pod-dest, which keeps it isolated.
    let t = Date.now();
    await kubectl('delete', '-f', POLICIES_DIR);
    const kubectlDone = Date.now() - t;
    const rulesGone = await programmedWithin(0, t);
    const opened = await becomes(true, 'pod-other', 'pod-dest', 80, t);
    t = Date.now();
    await kubectl('apply', '-f', POLICIES_DIR);
    const rulesBack = await programmedWithin(2, t);
    const closed = await becomes(false, 'pod-other', 'pod-dest', 80, t);
    expect(await connects('pod-src', 'pod-dest', 80)).toBe(true);
    console.log(
      `kubectl delete -f took ${kubectlDone} ms; rules in place ${rulesGone} ms after it started, connect seen ${opened} ms; apply -f: rules ${rulesBack} ms, connect refused ${closed} ms`,
    );
  });

  it('a GlobalNetworkPolicy Deny of order 10 beats the Kubernetes allow (order 1000) until it is deleted', async () => {
    const file = await manifest(GNP_DENY_SRC);
    let t = Date.now();
    await kubectl('apply', '-f', file);
    await becomes(false, 'pod-src', 'pod-dest', 80, t);
    expect(await connects('pod-src', 'pod-dest', 8080)).toBe(true); // the Deny names port 80 only
    t = Date.now();
    await kubectl('delete', '-f', file);
    await becomes(true, 'pod-src', 'pod-dest', 80, t);
  });

  it('a Calico Pass skips the Kubernetes policies: pod-other reaches pod-dest through the namespace profile', async () => {
    const file = await manifest(PASS_OTHER);
    let t = Date.now();
    await kubectl('apply', '-f', file);
    await becomes(true, 'pod-other', 'pod-dest', 80, t);
    t = Date.now();
    await kubectl('delete', '-f', file);
    await becomes(false, 'pod-other', 'pod-dest', 80, t);
  });

  it('an egress default-deny on the source side stops pod-src although pod-dest would let it in', async () => {
    const file = await manifest(DENY_EGRESS_DEFAULT);
    let t = Date.now();
    await kubectl('apply', '-f', file);
    await becomes(false, 'pod-src', 'pod-dest', 80, t);
    const walk = walkFelixChains(await filterOf(nodeOf('pod-src').netns), pod('pod-src').caliInterface);
    expect(walk.egress.noPolicyDrops[0]!.counters!.packets).toBeGreaterThan(0);
    t = Date.now();
    await kubectl('delete', '-f', file);
    await becomes(true, 'pod-src', 'pod-dest', 80, t);
  });

  it('a named port ("http") opens pod-dest:80 to pod-other and nothing else', async () => {
    const file = await manifest(ALLOW_OTHER_NAMED_PORT);
    let t = Date.now();
    await kubectl('apply', '-f', file);
    await becomes(true, 'pod-other', 'pod-dest', 80, t);
    expect(await connects('pod-other', 'pod-dest', 8080)).toBe(false);
    t = Date.now();
    await kubectl('delete', '-f', file);
    await becomes(false, 'pod-other', 'pod-dest', 80, t);
  });

  it('an ipBlock with except lets the pool in but the excepted address (pod-other) stays out', async () => {
    const file = await manifest(allowPoolExcept([`${pod('pod-other').ip}/32`]));
    const t = Date.now();
    await kubectl('apply', '-f', file);
    await becomes(true, 'pod-pause', 'pod-dest', 80, t); // same node as pod-dest: the tw chain alone decides
    expect(await connects('pod-other', 'pod-dest', 80)).toBe(false);
    await kubectl('delete', '-f', file);
  });
});

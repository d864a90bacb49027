import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { readFile, readlink, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { nodeCommandLog } from '../../../src/lab/sshd.ts';
import type { LabState } from '../../../src/lab/state.ts';
import { labPaths } from '../../../src/lab/state.ts';
import { labUp } from '../../../src/lab/lab-up.ts';
import { labDown } from '../../../src/lab/lab-down.ts';
import { inNetns, labClientSettings, run, startLab, stopLab, TOPOLOGIES } from '../../support/lab.ts';

const LAB = 'itlab';
let lab: LabState;
const pod = (name: string) => lab.plan.pods.find((p) => p.name === name)!;
const node = (name: string) => lab.plan.nodes.find((n) => n.name === name)!;

beforeAll(async () => {
  lab = await startLab(LAB);
}, 120_000);
afterAll(async () => {
  await stopLab(LAB);
}, 60_000);

describe('the default lab', () => {
  it('carries pod-src → pod-dest:80 across nodes inside VXLAN, seen by tcpdump on node2 eth0', async () => {
    const src = pod('pod-src');
    const dest = pod('pod-dest');
    const node2 = node(src.node);
    const capture = run(
      inNetns(node2.netns, ['timeout', '10', 'tcpdump', '-nn', '-l', '-i', 'eth0', '-c', '2', 'udp', 'port', '4789']),
      15_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const curl = await run(inNetns(src.netnsName, ['curl', '-s', '-m', '5', `http://${dest.ip}:80/`]));
    expect(curl.stdout).toBe('pod default/pod-dest web\n');
    const seen = await capture;
    expect(seen.stdout).toContain(`${node2.ip}.`);
    expect(seen.stdout).toMatch(
      new RegExp(
        `VXLAN.*vni 4096[\\s\\S]*${src.ip.replaceAll('.', '\\.')}\\.\\d+ > ${dest.ip.replaceAll('.', '\\.')}\\.80:`,
      ),
    );
  });

  it('answers the ClusterIP from pod-src through kube-proxy DNAT', async () => {
    const svc = lab.plan.services.find((s) => s.name === 'svc-clusterip')!;
    const curl = await run(
      inNetns(pod('pod-src').netnsName, ['curl', '-s', '-m', '5', `http://${svc.clusterIP}:8080/`]),
    );
    expect(curl.stdout).toBe('pod default/pod-dest web\n');
  });

  it('answers NodePort 31080 on both node IPs from the host', async () => {
    for (const n of lab.plan.nodes) {
      const curl = await run(['curl', '-s', '-m', '5', `http://${n.ip}:31080/`]);
      expect(curl.stdout).toBe('pod default/pod-dest web\n');
    }
  });

  it('lets ssh in with strict host key checking and shows the cali and vxlan.calico routes', async () => {
    const s = labClientSettings(LAB);
    const n1 = node('k8s-node1');
    const ssh = await run([
      'ssh',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${s.knownHosts}`,
      '-o',
      'BatchMode=yes',
      '-i',
      s.sshKey,
      `root@${n1.ip}`,
      'hostname; ip route; ip netns list',
    ]);
    expect(ssh.code).toBe(0);
    expect(ssh.stdout).toContain('k8s-node1\n');
    expect(ssh.stdout).toContain(`${pod('pod-dest').ip} dev ${pod('pod-dest').caliInterface} scope link`);
    expect(ssh.stdout).toContain(
      `${node('k8s-node2').block} via ${node('k8s-node2').tunnelIP} dev vxlan.calico proto 80 onlink`,
    );
    // The node logged the command before running it (tests use this to prove what reached a node).
    expect(await readFile(nodeCommandLog(labPaths(LAB), 'k8s-node1'), 'utf8')).toContain(
      'hostname; ip route; ip netns list',
    );
    // The node sees only its own pods' namespaces, as a real node does.
    expect(ssh.stdout).toContain(pod('pod-dest').netnsName);
    expect(ssh.stdout).not.toContain(pod('pod-src').netnsName);
  });

  it("refuses ssh when the host key is not the lab's", async () => {
    const s = labClientSettings(LAB);
    const ssh = await run([
      'ssh',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-i',
      s.sshKey,
      `root@${node('k8s-node1').ip}`,
      'true',
    ]);
    expect(ssh.code).not.toBe(0);
    expect(ssh.stderr).toMatch(/Host key verification failed/);
  });

  it('lists the right nodes, pods and IPs with real kubectl', async () => {
    const s = labClientSettings(LAB);
    const get = await run(['kubectl', '--kubeconfig', s.kubeconfig, 'get', 'nodes,pods,svc', '-A', '-o', 'wide']);
    expect(get.code).toBe(0);
    for (const n of lab.plan.nodes)
      expect(get.stdout).toMatch(new RegExp(`${n.name}\\s+Ready[\\s\\S]*${n.ip.replaceAll('.', '\\.')}`));
    for (const p of lab.plan.pods)
      expect(get.stdout).toMatch(
        new RegExp(`${p.name}\\s+\\d+/\\d+\\s+Running\\s+\\d+\\s+\\S+\\s+${p.ip.replaceAll('.', '\\.')}\\s+${p.node}`),
      );
    const pools = await run([
      'kubectl',
      '--kubeconfig',
      s.kubeconfig,
      'get',
      'ippools.crd.projectcalico.org',
      '-o',
      'yaml',
    ]);
    expect(pools.code).toBe(0);
    expect(pools.stdout).toContain('cidr: 10.244.0.0/16');
    expect(pools.stdout).toContain('vxlanMode: Always');
  });

  it("runs pod-pause's containers as separate processes sharing one network namespace", async () => {
    const owner = 'default/pod-pause';
    const procs = lab.processes.filter((p) => p.owner === owner);
    expect(procs.map((p) => p.role).sort()).toEqual(['container app-8000', 'container app-8080', 'pause']);
    const links = await Promise.all(procs.map((p) => readlink(`/proc/${p.pid}/ns/net`)));
    expect(new Set(links).size).toBe(1);
    const identify = await run(['ip', 'netns', 'identify', String(procs[0]!.pid)]);
    expect(identify.stdout.trim()).toBe(pod('pod-pause').netnsName);
    const ss = await run(inNetns(pod('pod-pause').netnsName, ['ss', '-H', '-lnt']));
    expect(ss.stdout).toMatch(/:8000\b/);
    expect(ss.stdout).toMatch(/:8080\b/);
  });

  it("keeps the host out of the lab's routing: one link, no forwarding, nothing routed to pod CIDRs", async () => {
    const routes = await run(['ip', '-4', 'route', 'get', pod('pod-dest').ip]);
    expect(routes.stdout).not.toContain(lab.hostLink);
    const forward = await run(['iptables', '-S', 'FORWARD']);
    expect(forward.stdout).toContain(`-A FORWARD -i ${lab.hostLink} -j DROP`);
    expect(forward.stdout).toContain(`-A FORWARD -o ${lab.hostLink} -j DROP`);
    const sw = await run(inNetns(lab.plan.switchNetns, ['sysctl', '-n', 'net.ipv4.ip_forward']));
    expect(sw.stdout.trim()).toBe('0');
  });
});

describe('other topologies', () => {
  it('builds a second, three-node lab with its own CIDRs, namespace and pod names next to the first', async () => {
    const other = await startLab('itlab3', TOPOLOGIES.threeNode);
    try {
      expect(other.plan.nodeSubnet).not.toBe(lab.plan.nodeSubnet);
      const frontend = other.plan.pods.find((p) => p.name === 'frontend')!;
      const backendSvc = other.plan.services.find((s) => s.name === 'backend')!;
      const curl = await run(
        inNetns(frontend.netnsName, ['curl', '-s', '-m', '5', `http://${backendSvc.clusterIP}:9000/`]),
      );
      expect(curl.stdout).toBe('pod shop/backend api\n');
      const get = await run([
        'kubectl',
        '--kubeconfig',
        labPaths('itlab3').kubeconfig,
        'get',
        'pods',
        '-n',
        'shop',
        '-o',
        'wide',
      ]);
      expect(get.stdout).toMatch(/frontend\s+1\/1\s+Running/);
    } finally {
      await stopLab('itlab3');
    }
  }, 120_000);

  it('stops before building anything when the topology asks for IP-in-IP on a kernel without ipip', async () => {
    if (existsSync('/sys/module/ipip')) return; // this kernel can build it; nothing to prove here
    await expect(labUp({ lab: 'itipip', topologyPath: TOPOLOGIES.ipip })).rejects.toThrow(/no ipip module/);
    expect(existsSync(labPaths('itipip').dir)).toBe(false);
    expect((await run(['ip', 'netns', 'list'])).stdout).not.toContain('k8snet-itipip-');
  });
});

describe('lab exec, env and status from the CLI', () => {
  const cli = (args: string[]) =>
    run([process.execPath, fileURLToPath(new URL('../../../bin/k8snet.js', import.meta.url)), ...args]);

  it('runs a command on a node as its sshd sees it, and inside a pod', async () => {
    const onNode = await cli(['lab', 'exec', '--lab', LAB, 'k8s-node1', '--', 'ip', 'route']);
    expect(onNode.stdout).toContain('dev vxlan.calico');
    const inPod = await cli(['lab', 'exec', '--lab', LAB, 'default/pod-src', '--', 'ip', '-4', 'addr', 'show', 'eth0']);
    expect(inPod.stdout).toContain(`inet ${pod('pod-src').ip}/32`);
    const unknown = await cli(['lab', 'exec', '--lab', LAB, 'nope', '--', 'true']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('"nope" is not a lab node or pod');
  });

  it('prints the client settings as shell exports and the status as JSON', async () => {
    const env = await cli(['lab', 'env', '--lab', LAB]);
    expect(env.stdout).toContain(`export KUBECONFIG='${labPaths(LAB).kubeconfig}'`);
    expect(env.stdout).toContain("export K8SNET_SSH_USER='root'");
    const status = JSON.parse((await cli(['lab', 'status', '--lab', LAB, '--json'])).stdout) as {
      up: boolean;
      nodes: { sshd: boolean }[];
      apiServer: { running: boolean };
    };
    expect(status.up).toBe(true);
    expect(status.nodes.every((n) => n.sshd)).toBe(true);
    expect(status.apiServer.running).toBe(true);
  });
});

describe('lab down', () => {
  it('cleans up after a lab whose state file was lost in a crash (the record of what was made suffices)', async () => {
    const crashed = await startLab('itcrsh');
    await rm(labPaths('itcrsh').state);
    await labDown({ lab: 'itcrsh' });
    const netns = (await run(['ip', 'netns', 'list'])).stdout;
    for (const name of ['k8snet-itcrsh-', ...crashed.plan.pods.map((p) => p.netnsName)])
      expect(netns).not.toContain(name);
    for (const p of crashed.processes) expect(existsSync(`/proc/${p.pid}`)).toBe(false);
    expect((await run(['iptables', '-S', 'FORWARD'])).stdout).not.toContain(crashed.hostLink);
  }, 120_000);

  it('leaves nothing behind: namespaces, host link, host rules, processes and state', async () => {
    const extra = await startLab('itdown');
    const pids = extra.processes.map((p) => p.pid);
    await labDown({ lab: 'itdown' });
    const netns = (await run(['ip', 'netns', 'list'])).stdout;
    for (const name of ['k8snet-itdown-', ...extra.plan.pods.map((p) => p.netnsName)])
      expect(netns).not.toContain(name);
    expect((await run(['ip', 'link', 'show', extra.hostLink])).code).not.toBe(0);
    expect((await run(['iptables', '-S', 'FORWARD'])).stdout).not.toContain(extra.hostLink);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(labPaths('itdown').dir)).toBe(false);
    // Idempotent, and fine when nothing is up.
    await expect(labDown({ lab: 'itdown' })).resolves.toEqual({ removed: [] });
  }, 120_000);
});

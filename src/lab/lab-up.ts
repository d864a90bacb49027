/**
 * `k8snet lab up`: builds the lab from a topology — namespaces, links, overlay, kube-proxy rules, sshd per node,
 * pod processes, the API server and the topology's network policies (applied through the API server) — recording
 * each thing before making it so `lab down` can always undo it.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { K8snetError } from '../errors.ts';
import { loadTopology } from './topology.ts';
import { planLab, type LabPlan } from './plan.ts';
import { ipBatch, inNetns, runTool } from './host-tools.ts';
import {
  hostLinkLines,
  hostLinkName,
  nodeFdbLines,
  nodeLines,
  nodeSysctls,
  podHostLines,
  podLines,
  switchLines,
  switchPortLines,
} from './network.ts';
import { CALICO_VXLAN } from '../calico/naming.ts';
import { hasIpv6Services, kubeProxyFilterRules, kubeProxyNatRules, kubeProxyNftRules } from './kube-proxy-rules.ts';
import { hostCidrsFromIpJson, pickNodeSubnet } from './node-subnet.ts';
import { LAB_SSH_USER, SSHD_BINARY, SSH_PORT, nodeSshdArgv, writeSshMaterial } from './sshd.ts';
import {
  labPaths,
  readLabState,
  recordCreated,
  writeLabState,
  type LabPaths,
  type LabProcess,
  type LabState,
} from './state.ts';
import { startDetached, waitFor } from './processes.ts';
import { BIRD_BINARY, birdArgv, birdConfig, birdConfigPath, calicoRunDir } from './bird.ts';
import { labDown } from './lab-down.ts';
import { applyPolicyDocuments } from './apply-policies.ts';
import { pkiPaths } from './api-server/pki.ts';
import { readPersistedPolicies } from './api-server/policy-store.ts';
import type { FelixStatus } from './policy-reconciler.ts';
import type { TopologyPolicyDocument } from './topology.ts';

export interface LabUpOptions {
  lab: string;
  topologyPath: string;
  /** When absent: the topology's nodeSubnet, else the first free /24 of 10.254.0.0/16. */
  nodeSubnet?: string;
  stateRoot?: string;
  onStep?: (step: string) => void;
}

const LAB_PROCESS = fileURLToPath(new URL('./lab-process.ts', import.meta.url));
const API_SERVER_MAIN = fileURLToPath(new URL('./api-server/main.ts', import.meta.url));
const REQUIRED_TOOLS = ['ip', 'bridge', 'iptables-restore', 'ssh-keygen', 'unshare', 'nsenter', 'openssl', SSHD_BINARY];
const SSHD_READY_TIMEOUT_MS = 10_000;
const API_SERVER_READY_TIMEOUT_MS = 20_000;
/** The reconciler programs a node in tens of milliseconds; this only bounds a wedged iptables. */
const POLICY_ENFORCED_TIMEOUT_MS = 10_000;
/** BIRD's mesh comes up in a few seconds with the lab's timers (bird.ts); this bounds a mesh that never forms. */
const BGP_CONVERGED_TIMEOUT_MS = 30_000;

async function preflight(plan: LabPlan): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new K8snetError('lab', 'the lab creates network namespaces and needs root (run with sudo)');
  const missing = [];
  for (const tool of [
    ...REQUIRED_TOOLS,
    ...(plan.kubeProxy === 'nftables' ? ['nft'] : []),
    ...(plan.routing === 'bgp' ? [BIRD_BINARY] : []),
  ]) {
    const found = tool.startsWith('/')
      ? existsSync(tool)
      : (await runTool(['sh', '-c', 'command -v "$1"', 'sh', tool], { allowFailure: true })).stdout.trim() !== '';
    if (!found) missing.push(tool);
  }
  if (missing.length > 0) {
    throw new K8snetError(
      'lab',
      `missing tools: ${missing.join(', ')} (apt-get install iproute2 iptables nftables openssh-server openssl util-linux${plan.routing === 'bgp' ? ' bird2' : ''})`,
    );
  }
  if (plan.overlay === 'ipip') {
    // The kernel must provide the ipip module for tunl0; load it if it is built as a module.
    await runTool(['modprobe', 'ipip'], { allowFailure: true });
    if (!existsSync('/sys/module/ipip')) {
      throw new K8snetError(
        'lab',
        "this kernel has no ipip module, so the lab cannot build Calico's IP-in-IP overlay (tunl0); use a VXLAN pool (vxlanMode: Always) or no encapsulation (both modes Never). k8snet still decodes IP-in-IP in captures from real clusters.",
      );
    }
  }
}

async function chooseSubnet(
  options: LabUpOptions,
  topologySubnet: string | undefined,
  avoid: string[],
): Promise<string> {
  if (options.nodeSubnet) return options.nodeSubnet;
  if (topologySubnet) return topologySubnet;
  const routes = await runTool(['ip', '-j', '-4', 'route', 'show', 'table', 'all']);
  const addrs = await runTool(['ip', '-j', '-4', 'addr']);
  return pickNodeSubnet(hostCidrsFromIpJson(routes.stdout, addrs.stdout), avoid);
}

async function tcpReachable(host: string, port: number): Promise<true | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 500 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok ? true : null);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

async function buildNetwork(plan: LabPlan, paths: LabPaths, step: (s: string) => void): Promise<string> {
  step(`creating switch ${plan.switchNetns}`);
  await recordCreated(paths, { kind: 'netns', name: plan.switchNetns });
  await runTool(['ip', 'netns', 'add', plan.switchNetns]);
  await ipBatch(plan.switchNetns, switchLines(plan));
  await runTool(inNetns(plan.switchNetns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']));

  const hostLink = hostLinkName(plan);
  step(`linking the host to the lab (${hostLink}, ${plan.hostIP})`);
  await recordCreated(paths, { kind: 'host-link', name: hostLink });
  // The host must not forward anything between the lab and its real interfaces.
  for (const direction of ['-i', '-o']) {
    const rule = ['FORWARD', direction, hostLink, '-j', 'DROP'];
    await recordCreated(paths, { kind: 'host-iptables', rule });
    await runTool(['iptables', '-I', ...rule]);
  }
  await ipBatch(null, hostLinkLines(plan));
  await runTool([
    'sysctl',
    '-q',
    '-w',
    `net.ipv6.conf.${hostLink}.disable_ipv6=1`,
    `net.ipv4.conf.${hostLink}.forwarding=0`,
  ]);

  for (const [i, node] of plan.nodes.entries()) {
    step(`building node ${node.name} (${node.ip})`);
    await recordCreated(paths, { kind: 'netns', name: node.netns });
    await runTool(['ip', 'netns', 'add', node.netns]);
    await ipBatch(node.netns, nodeLines(plan, node, i));
    const fdb = nodeFdbLines(plan, node);
    if (fdb.length > 0) await runTool(['bridge', '-n', node.netns, '-batch', '-'], { input: `${fdb.join('\n')}\n` });
    // Felix (Calico v3.28+) turns VXLAN's tx checksum offload off on vxlan.calico (FelixConfiguration
    // featureDetectOverride ChecksumOffloadBroken); do the same where ethtool is installed.
    if (plan.overlay === 'vxlan')
      for (const device of node.ipv6 ? [CALICO_VXLAN.device, CALICO_VXLAN.deviceV6] : [CALICO_VXLAN.device])
        await runTool(inNetns(node.netns, ['ethtool', '-K', device, 'tx-checksum-ip-generic', 'off']), {
          allowFailure: true,
        });
    if (plan.kubeProxy === 'nftables') {
      // kube-proxy's nftables proxier writes one transaction per sync; `nft -f -` is that transaction here.
      await runTool(inNetns(node.netns, ['nft', '-f', '-']), { input: kubeProxyNftRules(plan, node) });
      if (hasIpv6Services(plan))
        await runTool(inNetns(node.netns, ['nft', '-f', '-']), { input: kubeProxyNftRules(plan, node, 6) });
    } else {
      await runTool(inNetns(node.netns, ['iptables-restore', '-w', '5']), { input: kubeProxyNatRules(plan) });
      await runTool(inNetns(node.netns, ['iptables-restore', '-w', '5', '--noflush']), {
        input: kubeProxyFilterRules(plan),
      });
      if (hasIpv6Services(plan)) {
        await runTool(inNetns(node.netns, ['ip6tables-restore', '-w', '5']), { input: kubeProxyNatRules(plan, 6) });
        await runTool(inNetns(node.netns, ['ip6tables-restore', '-w', '5', '--noflush']), {
          input: kubeProxyFilterRules(plan, 6),
        });
      }
    }
  }
  await ipBatch(plan.switchNetns, switchPortLines(plan));

  for (const pod of plan.pods) {
    const node = plan.nodes.find((n) => n.name === pod.node)!;
    step(`starting pod ${pod.namespace}/${pod.name} on ${node.name} (${pod.ip}, ${pod.caliInterface})`);
    await recordCreated(paths, { kind: 'netns', name: pod.netnsName });
    await runTool(['ip', 'netns', 'add', pod.netnsName]);
    await ipBatch(node.netns, podHostLines(plan, pod));
    await ipBatch(pod.netnsName, podLines(plan, pod));
  }
  for (const node of plan.nodes) {
    await runTool(inNetns(node.netns, ['sysctl', '-q', '-w', ...nodeSysctls(plan, node)]));
  }
  return hostLink;
}

async function applyTopologyPolicies(
  paths: LabPaths,
  documents: readonly TopologyPolicyDocument[],
  step: (s: string) => void,
): Promise<void> {
  if (documents.length === 0) return;
  step(
    `applying ${documents.length} network ${documents.length === 1 ? 'policy' : 'policies'} through the lab API server`,
  );
  const info = JSON.parse(await readFile(paths.apiServer, 'utf8')) as { url: string };
  const pki = pkiPaths(paths.dir);
  const [caPem, token] = await Promise.all([readFile(pki.caCert, 'utf8'), readFile(pki.token, 'utf8')]);
  await applyPolicyDocuments({ url: info.url, caPem, token: token.trim() }, documents);
}

/**
 * The lab's Felix runs in the API server process; wait until it reports the nodes programmed for every policy
 * written so far (the topology's included).
 */
async function waitForPolicyEnforcement(paths: LabPaths, step: (s: string) => void): Promise<void> {
  step("waiting for the nodes' Calico policy chains");
  const { resourceVersion } = await readPersistedPolicies(paths.policies);
  const status = await waitFor(
    'the lab policy reconciler (see logs/api-server.log)',
    async () => {
      try {
        const s = JSON.parse(await readFile(paths.felixStatus, 'utf8')) as FelixStatus;
        return Number(s.resourceVersion) >= Number(resourceVersion) ? s : null;
      } catch {
        return null;
      }
    },
    POLICY_ENFORCED_TIMEOUT_MS,
  );
  if (status.error !== null) throw new K8snetError('lab', `the lab policy reconciler failed: ${status.error}`);
}

/** Every node has a `proto bird` route to every other node's block: the mesh is up and exporting. */
async function waitForBgpRoutes(plan: LabPlan, step: (s: string) => void): Promise<void> {
  step("waiting for the BGP mesh (a proto bird route to every other node's block, of each family)");
  for (const node of plan.nodes) {
    for (const family of node.blockV6 ? ([4, 6] as const) : ([4] as const)) {
      const others = plan.nodes.filter((n) => n !== node);
      const wanted = family === 6 ? others.flatMap((n) => (n.blockV6 ? [n.blockV6] : [])) : others.map((n) => n.block);
      const log = `logs/${node.name}-bird${family === 6 ? '6' : ''}.log`;
      await waitFor(
        `BIRD${family === 6 ? '6' : ''} routes on ${node.name} (see ${log})`,
        async () => {
          const argv = ['ip', '-n', node.netns, `-${family}`, 'route', 'show', 'proto', 'bird'];
          const out = (await runTool(argv, { allowFailure: true })).stdout;
          return wanted.every((b) => out.split('\n').some((l) => l.startsWith(`${b} `))) ? true : null;
        },
        BGP_CONVERGED_TIMEOUT_MS,
      );
    }
  }
}

async function startProcesses(plan: LabPlan, paths: LabPaths, step: (s: string) => void): Promise<LabProcess[]> {
  const processes: LabProcess[] = [];
  const start = async (argv: string[], role: string, owner: string, log: string): Promise<void> => {
    const pid = startDetached(argv, join(paths.logs, log));
    await recordCreated(paths, { kind: 'process', pid, what: `${owner} ${role}` });
    processes.push({ pid, role, owner });
  };
  const node24 = process.execPath;
  const nodePorts = plan.services.flatMap((s) =>
    s.ports.flatMap((p) => (p.nodePort === undefined ? [] : [p.nodePort])),
  );
  await mkdir('/run/sshd', { recursive: true });
  for (const node of plan.nodes) {
    const bgp = plan.routing === 'bgp';
    if (bgp) {
      step(
        `starting BIRD on ${node.name} (AS ${plan.asNumber}, peers ${plan.nodes
          .filter((n) => n !== node)
          .map((n) => n.ip)
          .join(', ')})`,
      );
      await mkdir(calicoRunDir(paths, node.name), { recursive: true });
      // calico/node runs BIRD for IPv4 and, on a dual-stack node, BIRD6 beside it (bird6.ctl).
      for (const family of node.blockV6 ? ([4, 6] as const) : ([4] as const)) {
        const name = family === 6 ? 'bird6' : 'bird';
        const log = `${node.name}-${name}.log`;
        await writeFile(
          birdConfigPath(paths, node.name, family),
          birdConfig(plan, node, join(paths.logs, log), family),
        );
        await start(birdArgv(plan, node, paths, family), name, node.name, log);
      }
    }
    step(`starting sshd and kube-proxy on ${node.name}`);
    await start(
      nodeSshdArgv(plan, node, paths, bgp ? calicoRunDir(paths, node.name) : ''),
      'sshd',
      node.name,
      `${node.name}-sshd.log`,
    );
    // kube-proxy before v1.26 held each NodePort open; 10256 is its healthz port.
    const portArgs = [...nodePorts, 10256].flatMap((p) => ['--port', String(p)]);
    // Its metrics server answers /proxyMode on the node's loopback (127.0.0.1:10249), as kube-proxy's does.
    const modeArgs = ['--proxy-mode', plan.kubeProxy ?? 'iptables'];
    await start(
      inNetns(node.netns, [node24, LAB_PROCESS, '--title', 'kube-proxy', ...portArgs, ...modeArgs]),
      'kube-proxy',
      node.name,
      `${node.name}-kube-proxy.log`,
    );
  }
  for (const pod of plan.pods) {
    const owner = `${pod.namespace}/${pod.name}`;
    await start(
      inNetns(pod.netnsName, [node24, LAB_PROCESS, '--title', 'pause', '--pod', owner]),
      'pause',
      owner,
      `${pod.name}.log`,
    );
    for (const c of pod.containers) {
      const portArgs = [...c.ports.flatMap((p) => ['--port', String(p)]), ...(pod.ipv6 ? ['--dual-stack'] : [])];
      await start(
        inNetns(pod.netnsName, [node24, LAB_PROCESS, '--title', c.name, '--pod', owner, ...portArgs]),
        `container ${c.name}`,
        owner,
        `${pod.name}.log`,
      );
    }
  }
  for (const node of plan.nodes) {
    await waitFor(
      `sshd on ${node.name} (${node.ip}:${SSH_PORT})`,
      () => tcpReachable(node.ip, SSH_PORT),
      SSHD_READY_TIMEOUT_MS,
    );
  }
  if (plan.routing === 'bgp') await waitForBgpRoutes(plan, step);
  step('starting the lab API server');
  await start([node24, API_SERVER_MAIN, '--state-dir', paths.dir], 'api-server', 'lab', 'api-server.log');
  await waitFor(
    'the lab API server',
    async () => (existsSync(paths.apiServer) && existsSync(paths.kubeconfig) ? true : null),
    API_SERVER_READY_TIMEOUT_MS,
  );
  return processes;
}

export async function labUp(options: LabUpOptions): Promise<LabState> {
  const step = options.onStep ?? (() => undefined);
  const paths = labPaths(options.lab, options.stateRoot);
  if ((await readLabState(paths)) !== null || existsSync(paths.created)) {
    throw new K8snetError(
      'lab',
      `lab "${options.lab}" is already up (or was left half-built): run \`k8snet lab down --lab ${options.lab}\` first`,
    );
  }
  const topology = await loadTopology(options.topologyPath);
  const nodeSubnet = await chooseSubnet(options, topology.nodeSubnet, [
    topology.serviceCIDR,
    ...topology.ipPools.flatMap((p) => (p.cidr.includes(':') ? [] : [p.cidr])),
  ]);
  const plan = planLab(topology, { lab: options.lab, nodeSubnet });
  await preflight(plan);

  await mkdir(paths.logs, { recursive: true });
  await writeFile(paths.created, '');
  try {
    await writeFile(paths.plan, `${JSON.stringify(plan, null, 2)}\n`);
    step('generating SSH keys (client, one host key per node)');
    await writeSshMaterial(plan, paths);
    const hostLink = await buildNetwork(plan, paths, step);
    const processes = await startProcesses(plan, paths, step);
    await applyTopologyPolicies(paths, topology.policyDocuments, step);
    await waitForPolicyEnforcement(paths, step);
    const state: LabState = {
      plan,
      topologyPath: options.topologyPath,
      createdAt: new Date().toISOString(),
      hostLink,
      sshUser: LAB_SSH_USER,
      processes,
    };
    await writeLabState(paths, state);
    return state;
  } catch (err) {
    // Leave nothing half-built behind; the error says what failed.
    await labDown({ lab: options.lab, stateRoot: options.stateRoot }).catch(() => undefined);
    throw err;
  }
}

/** For `lab env` and tests: the settings a client needs to talk to this lab. */
export async function labClientEnv(lab: string, stateRoot?: string): Promise<Record<string, string>> {
  const paths = labPaths(lab, stateRoot);
  const state = await readLabState(paths);
  if (state === null) throw new K8snetError('lab', `lab "${lab}" is not up (run \`k8snet lab up\`)`);
  return {
    KUBECONFIG: paths.kubeconfig,
    K8SNET_SSH_USER: state.sshUser,
    K8SNET_SSH_KEY: paths.clientKey,
    K8SNET_SSH_KNOWN_HOSTS: paths.knownHosts,
  };
}

export async function readPlan(lab: string, stateRoot?: string): Promise<LabPlan> {
  const paths = labPaths(lab, stateRoot);
  try {
    return JSON.parse(await readFile(paths.plan, 'utf8')) as LabPlan;
  } catch {
    throw new K8snetError('lab', `lab "${lab}" is not up (run \`k8snet lab up\`)`);
  }
}

export async function removeStateDir(paths: LabPaths): Promise<void> {
  await rm(paths.dir, { recursive: true, force: true });
}

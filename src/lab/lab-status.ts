/**
 * `k8snet lab status`: what the lab is and whether each part is alive (namespaces present, processes running,
 * sshd and the API server answering). Pure formatting lives in formatLabStatus.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { labPaths, readLabState } from './state.ts';
import { isAlive } from './processes.ts';
import { SSH_PORT } from './sshd.ts';

export interface LabStatus {
  lab: string;
  up: boolean;
  overlay: string | null;
  nodeSubnet: string | null;
  hostIP: string | null;
  apiServer: { url: string | null; running: boolean };
  kubeconfig: string | null;
  nodes: {
    name: string;
    ip: string;
    netns: string;
    netnsPresent: boolean;
    sshd: boolean;
    tunnelIP: string;
    block: string;
  }[];
  pods: {
    name: string;
    namespace: string;
    node: string;
    ip: string;
    caliInterface: string;
    netns: string;
    netnsPresent: boolean;
    processesRunning: number;
    processes: number;
  }[];
  /** clusterIPs: spec.clusterIPs (a dual-stack Service has one of each family, clusterIP first). */
  services: {
    name: string;
    namespace: string;
    type: string;
    clusterIP: string;
    clusterIPs: string[];
    ports: string[];
  }[];
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 500 });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true))
      .once('error', () => done(false))
      .once('timeout', () => done(false));
  });
}

export async function labStatus(lab: string, stateRoot?: string): Promise<LabStatus> {
  const paths = labPaths(lab, stateRoot);
  const state = await readLabState(paths);
  if (state === null) {
    return {
      lab,
      up: false,
      overlay: null,
      nodeSubnet: null,
      hostIP: null,
      apiServer: { url: null, running: false },
      kubeconfig: null,
      nodes: [],
      pods: [],
      services: [],
    };
  }
  const { plan } = state;
  const netnsPresent = (name: string) => existsSync(`/run/netns/${name}`);
  let api: { url?: string; pid?: number } = {};
  try {
    api = JSON.parse(await readFile(paths.apiServer, 'utf8')) as typeof api;
  } catch {
    /* not started or gone */
  }
  const nodes = await Promise.all(
    plan.nodes.map(async (n) => ({
      name: n.name,
      ip: n.ip,
      netns: n.netns,
      netnsPresent: netnsPresent(n.netns),
      sshd: netnsPresent(n.netns) && (await reachable(n.ip, SSH_PORT)),
      tunnelIP: n.tunnelIP,
      block: n.block,
    })),
  );
  const pods = plan.pods.map((p) => {
    const owned = state.processes.filter((proc) => proc.owner === `${p.namespace}/${p.name}`);
    return {
      name: p.name,
      namespace: p.namespace,
      node: p.node,
      ip: p.ip,
      caliInterface: p.caliInterface,
      netns: p.netnsName,
      netnsPresent: netnsPresent(p.netnsName),
      processesRunning: owned.filter((proc) => isAlive(proc.pid)).length,
      processes: owned.length,
    };
  });
  const services = plan.services.map((s) => ({
    name: s.name,
    namespace: s.namespace,
    type: s.type,
    clusterIP: s.clusterIP,
    clusterIPs: [s.clusterIP, ...(s.ipv6 ? [s.ipv6.clusterIP] : [])],
    ports: s.ports.map((p) => `${p.port}${p.nodePort === undefined ? '' : `:${p.nodePort}`}/${p.protocol}`),
  }));
  return {
    lab,
    up: true,
    overlay: plan.overlay,
    nodeSubnet: plan.nodeSubnet,
    hostIP: plan.hostIP,
    apiServer: { url: api.url ?? null, running: api.pid !== undefined && isAlive(api.pid) },
    kubeconfig: existsSync(paths.kubeconfig) ? paths.kubeconfig : null,
    nodes,
    pods,
    services,
  };
}

function table(columns: string[], rows: string[][]): string[] {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns), ...rows.map(line)];
}

export function formatLabStatus(s: LabStatus): string {
  if (!s.up) return `lab ${s.lab}: down (run \`k8snet lab up\`)`;
  const yes = (b: boolean) => (b ? 'yes' : 'NO');
  return [
    `lab ${s.lab}: up — overlay ${s.overlay}, node subnet ${s.nodeSubnet}, host ${s.hostIP}`,
    `API server: ${s.apiServer.url ?? '-'} (${s.apiServer.running ? 'running' : 'NOT running'}), kubeconfig ${s.kubeconfig ?? '-'}`,
    '',
    ...table(
      ['NODE', 'IP', 'BLOCK', 'TUNNEL IP', 'NETNS', 'SSHD'],
      s.nodes.map((n) => [n.name, n.ip, n.block, n.tunnelIP, yes(n.netnsPresent), yes(n.sshd)]),
    ),
    '',
    ...table(
      ['POD', 'NODE', 'IP', 'CALI', 'NETNS', 'PROCESSES'],
      s.pods.map((p) => [
        `${p.namespace}/${p.name}`,
        p.node,
        p.ip,
        p.caliInterface,
        yes(p.netnsPresent),
        `${p.processesRunning}/${p.processes}`,
      ]),
    ),
    '',
    ...table(
      ['SERVICE', 'TYPE', 'CLUSTER-IP', 'PORTS'],
      s.services.map((v) => [`${v.namespace}/${v.name}`, v.type, v.clusterIPs.join(', '), v.ports.join(',')]),
    ),
  ].join('\n');
}

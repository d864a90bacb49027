/**
 * A real OpenSSH server per lab node: key-only root login, per-lab host keys with a known_hosts file to match,
 * listening on the node's IP inside the node's namespace. Each sshd runs in a private mount namespace whose
 * /run/netns shows only that node's pod namespaces and whose hostname is the node's name, so a session on a lab
 * node sees what it would see on a real one.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabPlan, PlannedNode } from './plan.ts';
import type { LabPaths } from './state.ts';
import { runTool } from './host-tools.ts';

export const SSHD_BINARY = '/usr/sbin/sshd';
export const SSH_PORT = 22;
export const LAB_SSH_USER = 'root';

/**
 * Runs as: unshare -m -u --propagation private sh -c SCRIPT k8snet-node NODE VIEW CONFIG CALICO_RUN NETNS...
 * Values arrive as positional parameters; nothing is interpolated into the script. CALICO_RUN (empty when the node
 * runs no BIRD) is the node's directory holding BIRD's bird.ctl, shown at /var/run/calico as on a Calico node.
 */
const NODE_SSHD_SCRIPT = [
  'set -e',
  'node="$1"; view="$2"; config="$3"; calico="$4"; shift 4',
  'hostname "$node"',
  // The mount point is made on the host (as /run/netns below); the bind lives only in this mount namespace.
  'if [ -n "$calico" ]; then mkdir -p /run/calico; mount --bind "$calico" /run/calico; fi',
  'mount -t tmpfs -o size=1m,mode=755 k8snet-netns "$view"',
  'for ns in "$@"; do : > "$view/$ns"; mount --bind "/run/netns/$ns" "$view/$ns"; done',
  'mkdir -p /run/netns',
  'mount --rbind "$view" /run/netns',
  'exec "$SSHD" -D -e -f "$config"',
].join('\n');

/**
 * Every SSH command a lab node runs is appended to its commands.log before it runs (sshd ForceCommand), so tests can
 * prove what reached a node — and that hostile input never did. The command runs unchanged afterwards.
 */
const AUDIT_COMMAND_SCRIPT = [
  '#!/bin/sh',
  '# k8snet lab: log the command, then run it as sshd would have.',
  'printf \'%s %s\\n\' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SSH_ORIGINAL_COMMAND" >> "$1"',
  '[ -n "$SSH_ORIGINAL_COMMAND" ] || exec /bin/bash -l',
  'exec "${SHELL:-/bin/sh}" -c "$SSH_ORIGINAL_COMMAND"',
  '',
].join('\n');

export function nodeCommandLog(paths: LabPaths, node: string): string {
  return join(paths.node(node), 'commands.log');
}

export function sshdConfig(node: PlannedNode, paths: LabPaths): string {
  const dir = paths.node(node.name);
  return [
    `# k8snet lab node ${node.name}`,
    `ListenAddress ${node.ip}:${SSH_PORT}`,
    `HostKey ${join(dir, 'ssh_host_ed25519_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${paths.authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The state dir lives under /run (root-owned, but the lab's files are not checked for it).
    'StrictModes no',
    'X11Forwarding no',
    // Allowed, as on most real nodes: k8snet can reach nodes through one of them (K8SNET_SSH_JUMP_HOST).
    'AllowTcpForwarding yes',
    'PermitTunnel no',
    'PrintMotd no',
    // A trace opens several channels at once (captures on cali, tunnel and eth0 plus commands).
    'MaxSessions 32',
    'MaxStartups 64:30:128',
    'LogLevel INFO',
    `ForceCommand ${join(dir, 'audit-command.sh')} ${nodeCommandLog(paths, node.name)}`,
    // bash run by sshd sources ~/.bashrc; the machine's root may have a slow one (pyenv init takes a second),
    // which a node's root would not. Each node gets its own home.
    `SetEnv HOME=${join(dir, 'home')}`,
    '',
  ].join('\n');
}

async function keygen(file: string, comment: string): Promise<string> {
  await runTool(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return (await readFile(`${file}.pub`, 'utf8')).trim();
}

/** Client key, one host key per node, authorized_keys and a known_hosts naming each node by name and IP. */
export async function writeSshMaterial(plan: LabPlan, paths: LabPaths): Promise<void> {
  await mkdir(paths.sshDir, { recursive: true, mode: 0o700 });
  const clientPub = await keygen(paths.clientKey, `k8snet-${plan.lab}-client`);
  await writeFile(paths.authorizedKeys, `${clientPub}\n`, { mode: 0o600 });
  const known: string[] = [];
  for (const node of plan.nodes) {
    const dir = paths.node(node.name);
    await mkdir(join(dir, 'netns-view'), { recursive: true });
    const hostPub = await keygen(join(dir, 'ssh_host_ed25519_key'), `k8snet-${plan.lab}-${node.name}`);
    const [type, key] = hostPub.split(' ');
    known.push(`${node.name},${node.ip} ${type} ${key}`);
    await writeFile(join(dir, 'sshd_config'), sshdConfig(node, paths));
    await writeFile(join(dir, 'audit-command.sh'), AUDIT_COMMAND_SCRIPT, { mode: 0o755 });
    await writeFile(nodeCommandLog(paths, node.name), '', { mode: 0o644 });
    await mkdir(join(dir, 'home'), { recursive: true, mode: 0o700 });
    await writeFile(join(dir, 'home', '.bashrc'), '# k8snet lab node\n');
  }
  await writeFile(paths.knownHosts, `${known.join('\n')}\n`, { mode: 0o644 });
}

/** argv that starts a node's sshd (in the foreground, so its pid is the one we spawn). */
export function nodeSshdArgv(plan: LabPlan, node: PlannedNode, paths: LabPaths, calicoRun = ''): string[] {
  const dir = paths.node(node.name);
  const podNetns = plan.pods.filter((p) => p.node === node.name).map((p) => p.netnsName);
  return [
    'ip',
    'netns',
    'exec',
    node.netns,
    'unshare',
    '--mount',
    '--uts',
    '--propagation',
    'private',
    'env',
    `SSHD=${SSHD_BINARY}`,
    'sh',
    '-c',
    NODE_SSHD_SCRIPT,
    'k8snet-node',
    node.name,
    join(dir, 'netns-view'),
    join(dir, 'sshd_config'),
    calicoRun,
    ...podNetns,
  ];
}

/**
 * Where a lab keeps its files (/run/k8snet/<lab>/: tmpfs, so a reboot leaves nothing behind) and the record of
 * what it created. The record is appended BEFORE each thing is created, so `lab down` can remove everything even
 * after `lab up` crashed half-way.
 */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabPlan } from './plan.ts';
import { cliSettings } from '../config.ts';

export const LAB_STATE_ROOT = cliSettings(process.env).labStateRoot;

export function labPaths(lab: string, root = LAB_STATE_ROOT) {
  const dir = join(root, lab);
  return {
    dir,
    created: join(dir, 'created.jsonl'),
    plan: join(dir, 'plan.json'),
    state: join(dir, 'state.json'),
    clientKey: join(dir, 'ssh', 'id_ed25519'),
    knownHosts: join(dir, 'ssh', 'known_hosts'),
    authorizedKeys: join(dir, 'ssh', 'authorized_keys'),
    sshDir: join(dir, 'ssh'),
    kubeconfig: join(dir, 'kubeconfig'),
    apiServer: join(dir, 'api-server.json'),
    /** Network policies written through the lab API server (api-server/policy-store.ts), for the reconciler. */
    policies: join(dir, 'policies.json'),
    /** The resourceVersion the nodes' Calico chains enforce (policy-reconciler.ts). */
    felixStatus: join(dir, 'felix-status.json'),
    logs: join(dir, 'logs'),
    node: (name: string) => join(dir, 'nodes', name),
  };
}

export type LabPaths = ReturnType<typeof labPaths>;

/** One thing `lab up` made; `lab down` undoes them in reverse order. */
export type CreatedThing =
  | { kind: 'netns'; name: string }
  | { kind: 'host-link'; name: string }
  | { kind: 'host-iptables'; rule: string[] }
  | { kind: 'process'; pid: number; what: string };

export async function recordCreated(paths: LabPaths, thing: CreatedThing): Promise<void> {
  await appendFile(paths.created, `${JSON.stringify(thing)}\n`);
}

export async function readCreated(paths: LabPaths): Promise<CreatedThing[]> {
  let text: string;
  try {
    text = await readFile(paths.created, 'utf8');
  } catch {
    return [];
  }
  // A crash can leave a half-written last line: skip what does not parse.
  return text.split('\n').flatMap((line) => {
    try {
      return line ? [JSON.parse(line) as CreatedThing] : [];
    } catch {
      return [];
    }
  });
}

export interface LabProcess {
  pid: number;
  /** "sshd", "kube-proxy", "pause", "container app-8000" … */
  role: string;
  /** Node or "namespace/pod" it belongs to. */
  owner: string;
}

/** What `lab status` reads: the plan plus what is running. */
export interface LabState {
  plan: LabPlan;
  topologyPath: string;
  createdAt: string;
  hostLink: string;
  sshUser: string;
  processes: LabProcess[];
}

export async function writeLabState(paths: LabPaths, state: LabState): Promise<void> {
  await mkdir(paths.dir, { recursive: true });
  await writeFile(paths.state, `${JSON.stringify(state, null, 2)}\n`);
}

export async function readLabState(paths: LabPaths): Promise<LabState | null> {
  try {
    return JSON.parse(await readFile(paths.state, 'utf8')) as LabState;
  } catch {
    return null;
  }
}

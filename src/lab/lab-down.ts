/**
 * `k8snet lab down`: removes everything a lab made — its processes (everything inside its namespaces, and the API
 * server), pod and node namespaces, the switch, the host link and the host's FORWARD rules — from the record
 * `lab up` keeps, plus a scan by name, so it works after a crash or a half-finished `lab up`. Idempotent.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { runTool } from './host-tools.ts';
import { labPaths, readCreated, type CreatedThing } from './state.ts';
import { commandLineOf, stopProcesses } from './processes.ts';
import type { LabPlan } from './plan.ts';
import { validateLabName } from '../validate.ts';

export interface LabDownOptions {
  lab: string;
  stateRoot?: string;
}

export interface LabDownResult {
  removed: string[];
}

async function netnsPids(name: string): Promise<number[]> {
  const { stdout } = await runTool(['ip', 'netns', 'pids', name], { allowFailure: true });
  return stdout.split(/\s+/).filter(Boolean).map(Number).filter(Number.isInteger);
}

async function listNetns(): Promise<string[]> {
  const { stdout } = await runTool(['ip', 'netns', 'list'], { allowFailure: true });
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

export async function labDown(options: LabDownOptions): Promise<LabDownResult> {
  const lab = validateLabName(options.lab);
  const paths = labPaths(lab, options.stateRoot);
  const created = await readCreated(paths);
  const removed: string[] = [];

  const netnsNames = new Set(created.flatMap((c) => (c.kind === 'netns' ? [c.name] : [])));
  // Names are deterministic: find what a lost record would have listed.
  for (const name of await listNetns()) if (name.startsWith(`k8snet-${lab}-`)) netnsNames.add(name);
  if (existsSync(paths.plan)) {
    try {
      const plan = JSON.parse(await readFile(paths.plan, 'utf8')) as LabPlan;
      for (const pod of plan.pods) netnsNames.add(pod.netnsName);
    } catch {
      /* a torn plan.json: the record and the scan still apply */
    }
  }
  const existing = new Set(await listNetns());

  // Processes: everything running inside the lab's namespaces, and recorded host-side ones (the API server)
  // only while their command line still names this lab's state dir (a pid can be reused after a crash).
  const pids = new Set<number>();
  for (const name of netnsNames) if (existing.has(name)) for (const pid of await netnsPids(name)) pids.add(pid);
  for (const thing of created) {
    if (thing.kind === 'process' && (await commandLineOf(thing.pid))?.includes(paths.dir)) pids.add(thing.pid);
  }
  if (pids.size > 0) {
    await stopProcesses([...pids]);
    removed.push(`${pids.size} processes`);
  }

  for (const name of netnsNames) {
    if (!existing.has(name)) continue;
    await runTool(['ip', 'netns', 'delete', name], { allowFailure: true });
    removed.push(`netns ${name}`);
  }
  const undo = [...created].reverse();
  for (const thing of undo.filter((t): t is Extract<CreatedThing, { kind: 'host-link' }> => t.kind === 'host-link')) {
    const { stderr } = await runTool(['ip', 'link', 'delete', thing.name], { allowFailure: true });
    if (!stderr.includes('Cannot find device')) removed.push(`host link ${thing.name}`);
  }
  for (const thing of undo.filter(
    (t): t is Extract<CreatedThing, { kind: 'host-iptables' }> => t.kind === 'host-iptables',
  )) {
    // Delete every copy (a crashed `lab up` retried by hand may have inserted it twice).
    for (let i = 0; i < 8; i++) {
      const { stderr } = await runTool(['iptables', '-D', ...thing.rule], { allowFailure: true });
      if (stderr.trim() !== '') break;
      removed.push(`host rule ${thing.rule.join(' ')}`);
    }
  }
  await rm(paths.dir, { recursive: true, force: true });
  return { removed };
}

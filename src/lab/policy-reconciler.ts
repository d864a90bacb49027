/**
 * The lab's Felix: follows the policy store of the lab API server and keeps every node's Calico filter chains equal
 * to what felix-rules.ts renders for the current policies. Runs inside the API server process (api-server/main.ts),
 * subscribed to the store's synchronous 'change' event, so a write is being programmed before kubectl has its answer.
 *
 * Each change is debounced briefly (a `kubectl apply -f` of several documents is one reconcile), then for every node
 * and family (IPv4; IPv6 too on a dual-stack lab, in ip6tables): `iptables-save -t filter` in the node's namespace,
 * planApply (only chains whose `cali:` ids differ are flushed and refilled, stale ones deleted, the FORWARD and INPUT
 * hooks inserted once), one atomic `iptables-restore --noflush`; on a VXLAN lab, before it, the VXLAN allowlist
 * ipset cali-INPUT matches (felixVxlanAllowlist: cali40all-vxlan-net, cali60all-vxlan-net for IPv6). A change
 * arriving mid-run makes one more run afterwards. After each run the resourceVersion it programmed goes to
 * `<stateDir>/felix-status.json`, which `lab up` (and tests) wait for. Everything lives in the node namespaces, so
 * `lab down` deleting them removes it.
 */
import { rename, writeFile } from 'node:fs/promises';
import { normalizePolicies } from '../policy/policy-model.ts';
import { parseIptablesSave } from '../parse/iptables-save.ts';
import { describeError } from '../errors.ts';
import {
  currentFilterOf,
  felixFamilies,
  felixVxlanAllowlist,
  felixWorkloads,
  planApply,
  renderFelixFilter,
} from './felix-rules.ts';
import { ipsetMemberKey, parseIpsetList } from '../parse/ipset.ts';
import { inNetns, runTool } from './host-tools.ts';
import type { LabPlan } from './plan.ts';
import { POLICY_FAMILIES, type PolicyChange, type PolicyFamily } from './api-server/policy-store.ts';
import type { KubeObject } from './api-server/objects.ts';

/**
 * How long to wait after a change for more: kubectl sends the documents of one file back to back, each answered in
 * about a millisecond on loopback. 50 ms is ours: it coalesces them and leaves most of the 2-second budget.
 */
export const RECONCILE_DEBOUNCE_MS = 50;

/** Store objects lose apiVersion and kind (policy-store.ts); normalizePolicies needs them back. */
const API_OF: Record<PolicyFamily, { apiVersion: string; kind: string }> = {
  kubernetes: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  calico: { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy' },
  'calico-global': { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy' },
  'calico-tier': { apiVersion: 'projectcalico.org/v3', kind: 'Tier' },
};

/** What the reconciler needs of the policy store (api-server/policy-store.ts PolicyStore). */
export interface PolicySource {
  readonly resourceVersion: string;
  list(family: PolicyFamily): KubeObject[];
  on(event: 'change', listener: (c: PolicyChange) => void): unknown;
  off(event: 'change', listener: (c: PolicyChange) => void): unknown;
}

export type ToolRunner = (argv: readonly string[], options?: { input?: string }) => Promise<{ stdout: string }>;

/** What one reconcile did to one node's table of one family. */
export interface FelixTableStatus {
  written: string[];
  removed: string[];
  hooked: boolean;
  inputHooked: boolean;
}

export interface FelixStatus {
  /** The store's resourceVersion that the nodes now enforce. */
  resourceVersion: string;
  at: string;
  durationMs: number;
  /** Per node: its iptables table, and on a dual-stack lab its ip6tables table under `ipv6`. */
  nodes: Record<string, FelixTableStatus & { ipv6?: FelixTableStatus }>;
  error: string | null;
}

/** The tools of each family's table. */
const TABLE_TOOLS = {
  4: { save: 'iptables-save', restore: 'iptables-restore', ipsetFamily: 'inet' },
  6: { save: 'ip6tables-save', restore: 'ip6tables-restore', ipsetFamily: 'inet6' },
} as const;

export interface PolicyReconcilerOptions {
  plan: LabPlan;
  store: PolicySource;
  /** `<stateDir>/felix-status.json`; null: not written. */
  statusPath: string | null;
  log: (line: string) => void;
  run?: ToolRunner;
  debounceMs?: number;
}

/** The store's policies as API objects (apiVersion and kind restored), in a stable order. */
export function storeObjects(store: Pick<PolicySource, 'list'>): KubeObject[] {
  return POLICY_FAMILIES.flatMap((family) => store.list(family).map((o) => ({ ...API_OF[family], ...o })));
}

export class PolicyReconciler {
  private readonly o: Required<Omit<PolicyReconcilerOptions, 'statusPath'>> & { statusPath: string | null };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private readonly onChange = () => this.schedule();
  last: FelixStatus | null = null;

  constructor(options: PolicyReconcilerOptions) {
    this.o = { run: (argv, opts) => runTool(argv, opts ?? {}), debounceMs: RECONCILE_DEBOUNCE_MS, ...options };
  }

  /** Programs every node once, then follows the store. */
  async start(): Promise<void> {
    this.o.store.on('change', this.onChange);
    await this.kick();
  }

  stop(): void {
    this.o.store.off('change', this.onChange);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Resolves once no change is waiting and no run is under way. */
  async idle(): Promise<void> {
    while (this.timer !== null || this.running !== null) {
      if (this.running) await this.running;
      else await new Promise((resolve) => setTimeout(resolve, this.o.debounceMs));
    }
  }

  private schedule(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.kick();
    }, this.o.debounceMs);
  }

  /** One run at a time; a request during a run makes exactly one more run after it. */
  private kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.reconcileOnce();
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /**
   * Brings one hash:net set to these members the way Felix does (ipsets.go): a fresh temporary set swapped in, so the
   * rules matching it never see it half-filled. Left alone when it already holds exactly them.
   */
  private async syncIpset(netns: string, set: string, members: readonly string[], family: 4 | 6): Promise<void> {
    const { run } = this.o;
    const header = `hash:net family ${TABLE_TOOLS[family].ipsetFamily} hashsize 1024 maxelem 1048576`;
    const listed = await run(inNetns(netns, ['ipset', 'list', set])).catch(() => null);
    const have = listed ? parseIpsetList(listed.stdout).sets.get(set)?.members.map(ipsetMemberKey).sort() : undefined;
    if (have && JSON.stringify(have) === JSON.stringify(members.map(ipsetMemberKey).sort())) return;
    const temporary = `${set}-tmp`;
    const restore = [
      `create ${set} ${header}`,
      `create ${temporary} ${header}`,
      `flush ${temporary}`,
      ...members.map((m) => `add ${temporary} ${m}`),
      `swap ${temporary} ${set}`,
      `destroy ${temporary}`,
      '',
    ].join('\n');
    await run(inNetns(netns, ['ipset', '-exist', 'restore']), { input: restore });
  }

  /** One node's filter table of one family brought to what the renderer says for these policies. */
  private async programTable(
    node: LabPlan['nodes'][number],
    family: 4 | 6,
    policies: ReturnType<typeof normalizePolicies>['policies'],
    tiers: ReturnType<typeof normalizePolicies>['tiers'],
  ): Promise<FelixTableStatus> {
    const { plan, run, log } = this.o;
    const tools = TABLE_TOOLS[family];
    const allowlist = felixVxlanAllowlist(plan, family);
    const rendering = renderFelixFilter({
      node: node.name,
      ...felixWorkloads(plan, family),
      policies,
      tiers,
      family,
      ...(allowlist ? { vxlanAllowlist: { set: allowlist.set, port: allowlist.port } } : {}),
    });
    // The set first: iptables-restore refuses a rule matching a set that does not exist.
    if (allowlist) await this.syncIpset(node.netns, allowlist.set, allowlist.members, family);
    for (const n of rendering.notes) log(`policy reconciler: ${node.name}${family === 6 ? ' (IPv6)' : ''}: ${n}`);
    const saved = await run(inNetns(node.netns, [tools.save, '-t', 'filter']));
    const applied = planApply(rendering, currentFilterOf(parseIptablesSave(saved.stdout).tables.get('filter')));
    if (applied.text !== null)
      await run(inNetns(node.netns, [tools.restore, '-w', '5', '--noflush']), { input: applied.text });
    return {
      written: applied.write,
      removed: applied.remove,
      hooked: applied.hook,
      inputHooked: applied.inputHook,
    };
  }

  private async reconcileOnce(): Promise<void> {
    const started = Date.now();
    const { plan, store, log } = this.o;
    const resourceVersion = store.resourceVersion;
    const status: FelixStatus = { resourceVersion, at: '', durationMs: 0, nodes: {}, error: null };
    try {
      const { policies, problems, notEvaluated, tiers } = normalizePolicies(storeObjects(store));
      for (const p of problems) log(`policy reconciler: ${p.object}: ${p.message}`);
      for (const p of notEvaluated)
        log(
          `policy reconciler: ${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name} not programmed: ${p.reason}`,
        );
      const summary: string[] = [];
      for (const node of plan.nodes) {
        for (const family of felixFamilies(plan)) {
          const table = await this.programTable(node, family, policies, tiers);
          if (family === 4) status.nodes[node.name] = table;
          else status.nodes[node.name]!.ipv6 = table;
          const what = `${node.name}${family === 6 ? ' (IPv6)' : ''}`;
          summary.push(
            table.written.length === 0 && table.removed.length === 0 && !table.hooked && !table.inputHooked
              ? `${what} unchanged`
              : `${what} wrote ${table.written.length} chains${table.written.length ? ` (${table.written.join(', ')})` : ''}${table.removed.length ? `, removed ${table.removed.join(', ')}` : ''}${table.hooked ? ', hooked FORWARD' : ''}${table.inputHooked ? ', hooked INPUT' : ''}`,
          );
        }
      }
      status.durationMs = Date.now() - started;
      log(
        `policy reconciler: ${policies.length} policies at resourceVersion ${resourceVersion}: ${summary.join('; ')} (${status.durationMs} ms)`,
      );
    } catch (err) {
      status.error = describeError(err);
      status.durationMs = Date.now() - started;
      log(`policy reconciler: failed at resourceVersion ${resourceVersion}: ${status.error}`);
    }
    status.at = new Date().toISOString();
    this.last = status;
    if (this.o.statusPath !== null) {
      const temporary = `${this.o.statusPath}.${process.pid}.tmp`;
      await writeFile(temporary, `${JSON.stringify(status, null, 2)}\n`);
      await rename(temporary, this.o.statusPath);
    }
  }
}

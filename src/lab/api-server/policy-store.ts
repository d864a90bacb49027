/**
 * The lab's policy store: every network policy written through the lab API server, in memory and persisted as JSON
 * to `<stateDir>/policies.json`, with a change event for a reconciler.
 *
 * API
 *   type PolicyFamily = 'kubernetes' | 'calico' | 'calico-global' | 'calico-tier'
 *       kubernetes:    networking.k8s.io/v1 NetworkPolicy (namespaced)
 *       calico:        Calico NetworkPolicy (namespaced), served as crd.projectcalico.org/v1 and projectcalico.org/v3
 *       calico-global: Calico GlobalNetworkPolicy (cluster-scoped), served under the same two group/versions
 *       calico-tier:   Calico Tier (cluster-scoped): the order tiers of policies are evaluated in, same group/versions
 *   PolicyStore.open(path): Promise<PolicyStore>      loads `path` if it exists (a restarted server keeps its policies)
 *   store.list(family, namespace?): KubeObject[]       sorted by namespace, name; copies
 *   store.get(family, namespace, name): KubeObject | undefined
 *   store.create(family, object): KubeObject           sets uid, resourceVersion, creationTimestamp, generation 1;
 *                                                      throws PolicyExistsError
 *   store.update(family, object): KubeObject           replaces spec/labels/annotations; keeps uid and
 *                                                      creationTimestamp; generation + 1 when spec changed;
 *                                                      throws PolicyNotFoundError / PolicyConflictError (stale
 *                                                      metadata.resourceVersion)
 *   store.delete(family, namespace, name): KubeObject  the deleted object; throws PolicyNotFoundError
 *   store.resourceVersion: string                      the newest resourceVersion handed out
 *   store.flush(): Promise<void>                       resolves once every change so far is on disk
 *   store.on('change', (c: PolicyChange) => …)         emitted synchronously after each change, in order:
 *                                                      { type: 'ADDED' | 'MODIFIED' | 'DELETED', family, object,
 *                                                        resourceVersion }
 *   readPersistedPolicies(path): Promise<PersistedPolicies>   for a reconciler in another process
 *
 * Objects are stored without apiVersion and kind (the router adds those of the URL they are read through), so a
 * Calico policy written as v3 reads back as crd.projectcalico.org/v1 and the other way round, as on a cluster
 * running Calico's API server. The file is replaced atomically (write to a temporary file, then rename), so a reader
 * never sees half a file; a reconciler in another process can fs.watch the state dir and re-read on rename. A
 * reconciler in this process subscribes to 'change' and gets every write before the HTTP response is sent.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { KubeObject } from './objects.ts';
import { timestamp } from './objects.ts';

export type PolicyFamily = 'kubernetes' | 'calico' | 'calico-global' | 'calico-tier';
export const POLICY_FAMILIES: readonly PolicyFamily[] = ['kubernetes', 'calico', 'calico-global', 'calico-tier'];

export interface PolicyChange {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  family: PolicyFamily;
  object: KubeObject;
  resourceVersion: string;
}

export interface PersistedPolicies {
  resourceVersion: string;
  policies: { family: PolicyFamily; object: KubeObject }[];
}

/**
 * resourceVersions of written objects start above every one the lab derives for its built objects (objects.ts
 * hashes those into 1000..900999), so "newer" compares the way clients expect.
 */
export const FIRST_POLICY_RESOURCE_VERSION = 1_000_000;

export class PolicyNotFoundError extends Error {
  override readonly name = 'PolicyNotFoundError';
}
export class PolicyExistsError extends Error {
  override readonly name = 'PolicyExistsError';
}
export class PolicyConflictError extends Error {
  override readonly name = 'PolicyConflictError';
}

function keyOf(family: PolicyFamily, namespace: string | undefined | null, name: string): string {
  return `${family}/${namespace ?? ''}/${name}`;
}

function copy(o: KubeObject): KubeObject {
  return structuredClone(o);
}

export async function readPersistedPolicies(path: string): Promise<PersistedPolicies> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { resourceVersion: String(FIRST_POLICY_RESOURCE_VERSION), policies: [] };
  }
  const parsed = JSON.parse(text) as PersistedPolicies;
  return {
    resourceVersion: String(parsed.resourceVersion),
    policies: Array.isArray(parsed.policies) ? parsed.policies : [],
  };
}

export class PolicyStore extends EventEmitter<{ change: [PolicyChange] }> {
  readonly path: string | null;
  private readonly objects = new Map<string, { family: PolicyFamily; object: KubeObject }>();
  private revision: number;
  private writes: Promise<void> = Promise.resolve();
  private readonly now: () => Date;

  /** `path` null: memory only (unit tests). */
  constructor(path: string | null, initial?: PersistedPolicies, now: () => Date = () => new Date()) {
    super();
    this.path = path;
    this.now = now;
    this.revision = Math.max(FIRST_POLICY_RESOURCE_VERSION, Number(initial?.resourceVersion ?? 0) || 0);
    for (const p of initial?.policies ?? [])
      this.objects.set(keyOf(p.family, p.object.metadata.namespace, p.object.metadata.name), p);
  }

  static async open(path: string): Promise<PolicyStore> {
    return new PolicyStore(path, await readPersistedPolicies(path));
  }

  get resourceVersion(): string {
    return String(this.revision);
  }

  list(family: PolicyFamily, namespace?: string): KubeObject[] {
    return [...this.objects.values()]
      .filter((p) => p.family === family && (namespace === undefined || p.object.metadata.namespace === namespace))
      .map((p) => copy(p.object))
      .sort(
        (a, b) =>
          (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
          a.metadata.name.localeCompare(b.metadata.name),
      );
  }

  get(family: PolicyFamily, namespace: string | null, name: string): KubeObject | undefined {
    const found = this.objects.get(keyOf(family, namespace, name));
    return found ? copy(found.object) : undefined;
  }

  create(family: PolicyFamily, object: KubeObject): KubeObject {
    const key = keyOf(family, object.metadata.namespace, object.metadata.name);
    if (this.objects.has(key)) throw new PolicyExistsError(object.metadata.name);
    const stored = copy(object);
    stored.metadata = {
      ...stored.metadata,
      uid: randomUUID(),
      resourceVersion: this.nextRevision(),
      creationTimestamp: timestamp(this.now()),
      generation: 1,
    };
    return this.commit('ADDED', family, key, stored);
  }

  update(family: PolicyFamily, object: KubeObject): KubeObject {
    const key = keyOf(family, object.metadata.namespace, object.metadata.name);
    const current = this.objects.get(key)?.object;
    if (!current) throw new PolicyNotFoundError(object.metadata.name);
    const presented = object.metadata.resourceVersion;
    if (presented !== undefined && presented !== '' && presented !== current.metadata.resourceVersion)
      throw new PolicyConflictError(object.metadata.name);
    const stored = copy(object);
    const specChanged = JSON.stringify(stored.spec ?? null) !== JSON.stringify(current.spec ?? null);
    stored.metadata = {
      ...stored.metadata,
      uid: current.metadata.uid,
      creationTimestamp: current.metadata.creationTimestamp,
      generation: (current.metadata.generation ?? 1) + (specChanged ? 1 : 0),
      resourceVersion: current.metadata.resourceVersion,
    };
    if (JSON.stringify(stored) === JSON.stringify(current)) return copy(current); // a no-op write keeps its resourceVersion
    stored.metadata.resourceVersion = this.nextRevision();
    return this.commit('MODIFIED', family, key, stored);
  }

  delete(family: PolicyFamily, namespace: string | null, name: string): KubeObject {
    const key = keyOf(family, namespace, name);
    const current = this.objects.get(key)?.object;
    if (!current) throw new PolicyNotFoundError(name);
    this.objects.delete(key);
    const revision = this.nextRevision();
    this.persist();
    this.emit('change', { type: 'DELETED', family, object: copy(current), resourceVersion: revision });
    return copy(current);
  }

  flush(): Promise<void> {
    return this.writes;
  }

  private nextRevision(): string {
    this.revision += 1;
    return String(this.revision);
  }

  private commit(type: PolicyChange['type'], family: PolicyFamily, key: string, stored: KubeObject): KubeObject {
    this.objects.set(key, { family, object: stored });
    this.persist();
    this.emit('change', { type, family, object: copy(stored), resourceVersion: stored.metadata.resourceVersion });
    return copy(stored);
  }

  /** Writes are chained so the file always ends with the newest state, and each one snapshots the whole store. */
  private persist(): void {
    const path = this.path;
    if (path === null) return;
    const snapshot: PersistedPolicies = {
      resourceVersion: this.resourceVersion,
      policies: [...this.objects.values()].map((p) => ({ family: p.family, object: copy(p.object) })),
    };
    // A failed write (disk full) fails its flush(); the next change tries again with the whole store.
    this.writes = this.writes
      .catch(() => undefined)
      .then(async () => {
        const temporary = `${path}.${process.pid}.tmp`;
        await writeFile(temporary, `${JSON.stringify(snapshot, null, 2)}\n`, { mode: 0o600 });
        await rename(temporary, path);
      });
  }
}

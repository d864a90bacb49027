import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { compose, configMapData, deployment, manifest, read } from './deploy-files.ts';
import { main } from '../../../src/cli/main.ts';

/** Dockerfile instructions in order (continuation lines joined, comments dropped). */
function dockerfile(): { instruction: string; args: string }[] {
  return read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trimStart().startsWith('#'))
    .map((l) => {
      const m = /^\s*([A-Z]+)\s+(.*)$/.exec(l)!;
      return { instruction: m[1]!, args: m[2]!.trim() };
    });
}
const last = (instruction: string) =>
  dockerfile()
    .filter((i) => i.instruction === instruction)
    .at(-1)?.args;

/** Runs `k8snet …` in-process as bin/k8snet.js does, and returns its exit status and what it printed. */
async function cli(argv: string[]): Promise<{ status: number; out: string }> {
  const out: string[] = [];
  jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  return { status: await main(argv), out: out.join('\n') };
}

describe('one image, two processes: the commands the tests start', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it("bin/k8snet.js is the package's k8snet command and runs src/cli/main.ts", () => {
    expect((JSON.parse(read('package.json')) as { bin: Record<string, string> }).bin).toEqual({
      k8snet: 'bin/k8snet.js',
    });
    expect(read('bin/k8snet.js')).toContain("await import('../src/cli/main.ts')");
  });

  it('the CLI has `bot` and `worker` sub-commands (their --help answers, exit 0)', async () => {
    const bot = await cli(['bot', '--help']);
    expect(bot).toEqual({ status: 0, out: expect.stringMatching(/^Usage: k8snet bot\n/) });
    const worker = await cli(['worker', '--help']);
    expect(worker).toEqual({ status: 0, out: expect.stringMatching(/^Usage: k8snet worker/) });
    // …and a wrong name is refused, so the two answers above mean something.
    expect((await cli(['bots'])).status).toBe(2);
  });

  it('the image runs bin/k8snet.js under tini, `bot` unless told otherwise', () => {
    expect(JSON.parse(last('ENTRYPOINT')!)).toEqual(['/usr/bin/tini', '--', 'node', '/app/bin/k8snet.js']);
    expect(JSON.parse(last('CMD')!)).toEqual(['bot']);
    expect(
      dockerfile()
        .filter((i) => i.instruction === 'COPY')
        .map((i) => i.args),
    ).toEqual(expect.arrayContaining(['bin ./bin', 'src ./src', 'package.json ./']));
  });

  it('docker-compose.yml and the Deployments run exactly `bot` and `worker` of that image', () => {
    const { services } = compose();
    expect(services.bot!.command).toEqual(['bot']);
    expect(services.worker!.command).toEqual(['worker']);
    expect(services.bot!.image).toBe(services.worker!.image);
    for (const [name, sub] of [
      ['k8snet-bot', 'bot'],
      ['k8snet-worker', 'worker'],
    ] as const) {
      const [c, ...more] = deployment(name).spec.template.spec.containers;
      expect(more).toEqual([]);
      // `args` replaces CMD and keeps the ENTRYPOINT; a `command` would replace the ENTRYPOINT.
      expect(c!.command).toBeUndefined();
      expect(c!.args).toEqual([sub]);
      expect(c!.image).toBe('k8snet:latest');
    }
  });

  it('the image is Node 24 slim, multi-stage, production dependencies only, and not root', () => {
    const froms = dockerfile()
      .filter((i) => i.instruction === 'FROM')
      .map((i) => i.args);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/^node:24-[a-z]+-slim\b/);
    expect(dockerfile().find((i) => i.instruction === 'RUN' && i.args.includes('npm ci'))?.args).toContain(
      '--omit=dev',
    );
    expect(last('USER')).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    for (const ignored of ['node_modules', '.env', 'secrets', 'test'])
      expect(read('.dockerignore').split('\n')).toContain(ignored);
  });
});

describe('what a worker needs to do its job', () => {
  const worker = deployment('k8snet-worker').spec.template.spec;
  const mounts = Object.fromEntries(worker.containers[0]!.volumeMounts!.map((m) => [m.mountPath, m]));
  const volumes = Object.fromEntries(worker.volumes!.map((v) => [v.name, v]));
  const config = configMapData();

  it('reaches the Kubernetes API in-cluster through its service account, or through a mounted kubeconfig', () => {
    expect(worker.serviceAccountName).toBe('k8snet');
    expect(worker.automountServiceAccountToken).not.toBe(false);
    expect(
      manifest<{ automountServiceAccountToken?: boolean }>('ServiceAccount', 'k8snet').automountServiceAccountToken,
    ).not.toBe(false);
    const binding = manifest<{
      roleRef: { name: string };
      subjects: { kind: string; name: string; namespace: string }[];
    }>('ClusterRoleBinding', 'k8snet-reader');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'k8snet', namespace: 'k8snet' }]);
    // Empty KUBECONFIG: in-cluster (src/config.ts kubeSettings). Set, it names the optional Secret's file.
    expect(config.KUBECONFIG).toBe('');
    expect(mounts['/secrets/kube']).toMatchObject({ name: 'kubeconfig', readOnly: true });
    expect(volumes.kubeconfig!.secret).toMatchObject({ secretName: 'k8snet-kubeconfig', optional: true });
  });

  it('gets the SSH key and known_hosts as read-only files where the ConfigMap says they are', () => {
    const ssh = mounts['/secrets/ssh']!;
    expect(ssh.readOnly).toBe(true);
    const items = volumes[ssh.name]!.secret!.items!;
    expect(config.K8SNET_SSH_KEY).toBe(`/secrets/ssh/${items.find((i) => i.key === 'id_ed25519')!.path}`);
    expect(config.K8SNET_SSH_KNOWN_HOSTS).toBe(`/secrets/ssh/${items.find((i) => i.key === 'known_hosts')!.path}`);
    expect(config.K8SNET_SSH_STRICT_HOST_KEYS).toBe('true');
  });

  it('has more time to stop than the grace it gives running jobs, in Kubernetes and in compose', () => {
    const grace = Number(config.K8SNET_SHUTDOWN_GRACE_SECONDS);
    expect(worker.terminationGracePeriodSeconds! - grace).toBeGreaterThanOrEqual(15);
    const composeGrace = /^(\d+)s$/.exec(compose().services.worker!.stop_grace_period ?? '');
    expect(Number(composeGrace?.[1]) - grace).toBeGreaterThanOrEqual(15);
  });

  it('the bot gets neither the SSH key nor a Kubernetes token', () => {
    const bot = deployment('k8snet-bot').spec.template.spec;
    expect(bot.automountServiceAccountToken).toBe(false);
    expect(JSON.stringify(bot.volumes)).not.toMatch(/id_ed25519|known_hosts|kubeconfig/);
  });

  it('in compose, finds the kubeconfig, key and known_hosts under the read-only ./secrets mount', () => {
    const { services } = compose();
    for (const name of ['bot', 'worker']) {
      const s = services[name]!;
      expect(s.volumes).toContain('./secrets:/secrets:ro');
      for (const key of ['KUBECONFIG', 'K8SNET_SSH_KEY', 'K8SNET_SSH_KNOWN_HOSTS'])
        expect([name, key, s.environment?.[key]]).toEqual([name, key, expect.stringMatching(/^\/secrets\//)]);
    }
  });
});

describe("the queue's Redis", () => {
  it('keeps jobs across restarts and never evicts a key, in compose and in Kubernetes', () => {
    expect(compose().services.redis!.command).toEqual([
      'redis-server',
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
    ]);
    const redis = manifest<{ spec: { template: { spec: { containers: { args: string[] }[] } } } }>(
      'StatefulSet',
      'redis',
    );
    expect(redis.spec.template.spec.containers[0]!.args).toEqual([
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
    ]);
    expect(configMapData().REDIS_URL).toBe('redis://redis.k8snet.svc:6379');
  });
});

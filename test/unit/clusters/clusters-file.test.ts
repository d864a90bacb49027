import { describe, expect, it } from '@jest/globals';
import {
  clusterCaptureBounds,
  clusterEnv,
  clusterForChannel,
  findCluster,
  parseClustersFile,
} from '../../../src/clusters/clusters-file.ts';
import { captureSettings, kubeSettings, sshEnvSettings } from '../../../src/config.ts';
import { parseInspectArgs, parseSlackCommand } from '../../../src/command/grammar.ts';

const FILE = `
clusters:
  prod-eu:
    kubeconfig: /secrets/prod-eu/kubeconfig
    context: eu
    ssh: { user: ops, key: /secrets/prod-eu/id_ed25519, knownHosts: /secrets/prod-eu/known_hosts, port: 2222, jumpHost: "ops@bastion:22" }
    capture: { defaultSeconds: 3, maxSeconds: 10, snapLength: 256 }
    channels: [C0PRODEU]
  staging:
    inCluster: true
`;

describe('the clusters file', () => {
  it('reads clusters by name with their kubeconfig, SSH settings, capture limits and channels', () => {
    const file = parseClustersFile(FILE);
    expect(file.clusters.map((c) => [c.name, c.kubeconfig, c.inCluster, c.channels])).toEqual([
      ['prod-eu', '/secrets/prod-eu/kubeconfig', false, ['C0PRODEU']],
      ['staging', null, true, []],
    ]);
    expect(clusterForChannel(file, 'C0PRODEU')).toBe('prod-eu');
    expect(clusterForChannel(file, 'C0OTHER')).toBeNull();
    expect(clusterForChannel(null, 'C0PRODEU')).toBeNull();
  });

  it('lays a cluster over the environment, validated as the environment is', () => {
    const [eu, staging] = parseClustersFile(FILE).clusters;
    const base = {
      KUBECONFIG: '/root/.kube/config',
      K8SNET_SSH_KEY: '/keys/default',
      K8SNET_SSH_KNOWN_HOSTS: '/keys/known_hosts',
      K8SNET_CAPTURE_MAX_PACKETS: '500',
    };
    const env = clusterEnv(eu!, base);
    expect(kubeSettings(env)).toEqual({
      kubeconfigPath: '/secrets/prod-eu/kubeconfig',
      inCluster: false,
      context: 'eu',
    });
    expect(sshEnvSettings(env)).toMatchObject({
      user: 'ops',
      privateKeyPath: '/secrets/prod-eu/id_ed25519',
      knownHostsPath: '/secrets/prod-eu/known_hosts',
      port: 2222,
      jumpHost: { host: 'bastion', port: 22, user: 'ops' },
    });
    expect(captureSettings(env)).toMatchObject({ defaultSeconds: 3, maxSeconds: 10, maxPackets: 500, snapLength: 256 });
    // inCluster: the environment's kubeconfig does not leak into it.
    expect(kubeSettings(clusterEnv(staging!, { ...base, KUBERNETES_SERVICE_HOST: '10.96.0.1' }))).toEqual({
      kubeconfigPath: null,
      inCluster: true,
      context: null,
    });
    expect(sshEnvSettings(clusterEnv(staging!, base))).toMatchObject({ privateKeyPath: '/keys/default' });
  });

  it('refuses a bad file naming the cluster and the field', () => {
    const bad = (text: string) => () => parseClustersFile(text, 'clusters.yaml');
    expect(bad('clusters:\n  Prod_EU: { inCluster: true }\n')).toThrow('clusters.yaml, cluster "Prod_EU"');
    expect(bad('clusters:\n  a: { kubeconfig: /k, inCluster: true }\n')).toThrow(
      'kubeconfig and inCluster: true exclude each other',
    );
    expect(bad('clusters:\n  a: { context: x }\n')).toThrow('needs kubeconfig (a path) or inCluster: true');
    expect(bad('clusters:\n  a: { inCluster: true, ssh: { password: x } }\n')).toThrow(
      'cluster "a".ssh: unknown field "password"',
    );
    expect(bad('clusters:\n  a: { inCluster: true, capture: { maxSeconds: "10" } }\n')).toThrow(
      'cluster "a".capture.maxSeconds: must be a number',
    );
    expect(bad('clusters:\n  a: { inCluster: true, channels: ["#ops"] }\n')).toThrow('must be a list of channel IDs');
    expect(
      bad('clusters:\n  a: { inCluster: true, channels: [C1] }\n  b: { inCluster: true, channels: [C1] }\n'),
    ).toThrow('C1 already uses cluster "a"');
    expect(bad('cluster:\n  a: {}\n')).toThrow('unknown field "cluster"');
    expect(bad('clusters: [\n')).toThrow('is not valid YAML');
    expect(parseClustersFile('').clusters).toEqual([]);
  });
});

describe('--cluster NAME in the grammar', () => {
  it('is on every command, from the terminal and from Slack (-c too), and validated as a DNS label', () => {
    expect(parseInspectArgs('trace', ['a', 'b', '--cluster', 'prod-eu']).cluster).toBe('prod-eu');
    expect(parseInspectArgs('report', ['-c', 'staging']).cluster).toBe('staging');
    expect(parseSlackCommand('pod a -c prod-eu')).toEqual({
      kind: 'operation',
      command: { op: 'pod', namespace: 'default', name: 'a' },
      cluster: 'prod-eu',
    });
    expect(parseSlackCommand('pod a')).toEqual({
      kind: 'operation',
      command: { op: 'pod', namespace: 'default', name: 'a' },
    });
    expect(() => parseSlackCommand('pod a --cluster "prod;id"')).toThrow('--cluster');
    expect(parseSlackCommand('clusters')).toEqual({ kind: 'clusters' });
    expect(() => parseSlackCommand('clusters x')).toThrow('`clusters` takes no arguments');
  });
});

describe("a cluster's own capture limits in the grammar", () => {
  const file = parseClustersFile(FILE);
  const deployment = { defaultSeconds: 5, maxSeconds: 30 };
  // As the bot does it: the named cluster's limits, else (no --cluster) the channel's cluster's, else the deployment's.
  const boundsIn = (channel: string) => (asked: string | undefined) => {
    const entry = findCluster(file, asked ?? clusterForChannel(file, channel) ?? '');
    return entry ? clusterCaptureBounds(entry, deployment) : deployment;
  };
  const seconds = (text: string, channel = 'C0OTHER') => {
    const parsed = parseSlackCommand(text, boundsIn(channel));
    return parsed.kind === 'operation' && 'capture' in parsed.command ? parsed.command.capture.seconds : null;
  };

  it("takes the cluster's default window: named with --cluster, or the channel's cluster; else the deployment's", () => {
    expect(seconds('trace a b --cluster prod-eu')).toBe(3);
    expect(seconds('trace a b', 'C0PRODEU')).toBe(3);
    // staging sets no capture limits: the deployment's.
    expect(seconds('trace a b -c staging', 'C0PRODEU')).toBe(5);
    expect(seconds('trace a b')).toBe(5);
    expect(seconds('nodeport 31080 -c prod-eu --capture-seconds 10')).toBe(10);
  });

  it('refuses more than the cluster allows, naming the cluster, where the deployment would allow it', () => {
    expect(() => parseSlackCommand('trace a b -c prod-eu --capture-seconds 11', boundsIn('C0OTHER'))).toThrow(
      '--capture-seconds: cluster prod-eu captures at most 10 s; ask for 10 or fewer',
    );
    expect(() => parseSlackCommand('svc web --capture-seconds 20', boundsIn('C0PRODEU'))).toThrow(
      'cluster prod-eu captures at most 10 s',
    );
    expect(seconds('svc web --capture-seconds 20 -c staging', 'C0PRODEU')).toBe(20);
    // Not a number is still the grammar's own message.
    expect(() => parseSlackCommand('trace a b -c prod-eu --capture-seconds 2s', boundsIn('C0OTHER'))).toThrow(
      '--capture-seconds: "2s" is not a whole number',
    );
  });
});

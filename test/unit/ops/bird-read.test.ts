import { describe, expect, it } from '@jest/globals';
import { calicoNodeContainerId, readBirdProtocols } from '../../../src/ops/bird-read.ts';
import type { CommandResult, NodeCommand, NodeShell } from '../../../src/node/types.ts';
import { crictlExecBirdShowProtocols } from '../../../src/node/catalogue.ts';
import { commandResult } from '../../support/command-result.ts';
import { publishedFixture } from '../parse/published-fixture.ts';

const CRICTL_PS = publishedFixture('crictl-ps-json-cri-tools-549.json');
const ESTABLISHED = publishedFixture('birdcl-lab-bird2-established.txt');
const CALICO_NODE_ID = 'fe8694f85ea3d6be425a14f3d73d381acf6c8f42f28730ac8d340e039e052c43';
const node = { name: 'k8s-node1', address: '10.254.1.11' };

/** Answers by the program run (after `timeout N`); records every argv it was asked. */
function shellAnswering(answers: Record<string, Partial<CommandResult>>): NodeShell & { asked: string[][] } {
  const asked: string[][] = [];
  return {
    asked,
    async run(_node, command: NodeCommand): Promise<CommandResult> {
      asked.push(command.argv);
      const program = command.argv[0] === 'timeout' ? command.argv[2]! : command.argv[0]!;
      const a = answers[program] ?? { exitCode: 127, stderr: `sh: 1: ${program}: not found` };
      return commandResult(node.name, command.argv, a);
    },
    capture: () => Promise.reject(new Error('no captures here')),
    close: async () => undefined,
  };
}

const signal = () => AbortSignal.timeout(5_000);

describe("reading BIRD's protocols where its client lives", () => {
  it('uses the host birdcl when it answers, and asks nothing else', async () => {
    const shell = shellAnswering({ birdcl: { stdout: ESTABLISHED } });
    const read = await readBirdProtocols(shell, node, signal());
    expect(read).toMatchObject({ via: 'host birdcl', failed: [] });
    expect(read.bird?.protocols.map((p) => p.name)).toContain('Mesh_10_254_1_12');
    expect(shell.asked).toHaveLength(1);
  });

  it("falls back to birdc, then to calico-node's birdcl through crictl, saying why each step failed", async () => {
    const shell = shellAnswering({
      crictl: { stdout: CRICTL_PS },
      birdc: {
        exitCode: 1,
        stderr: 'Unable to connect to server control socket (/var/run/calico/bird.ctl): No such file or directory',
      },
    });
    // crictl answers both `ps` and `exec`: the exec's answer is BIRD's.
    const run = shell.run.bind(shell);
    shell.run = async (n, c, s) => {
      const r = await run(n, c, s);
      return c.argv.includes('exec') ? { ...r, stdout: ESTABLISHED } : r;
    };
    const read = await readBirdProtocols(shell, node, signal());
    expect(read.bird).not.toBeNull();
    expect(read).toMatchObject({ via: 'crictl exec fe8694f85ea3d birdcl' });
    expect(read.failed).toEqual([
      expect.stringMatching(/^host birdcl: .*exited 127: sh: 1: birdcl: not found$/),
      expect.stringMatching(/^host birdc: .*exited 1: Unable to connect to server control socket/),
    ]);
    expect(shell.asked.at(-1)).toEqual(crictlExecBirdShowProtocols(CALICO_NODE_ID).argv);
  });

  it('says every step in the error when none works', async () => {
    const read = await readBirdProtocols(shellAnswering({}), node, signal());
    expect(read.bird).toBeNull();
    expect('error' in read && read.error).toMatch(
      /^BIRD not readable on k8s-node1: host birdcl: .*not found; host birdc: .*not found; crictl: .*not found$/,
    );
  });

  it('picks the running calico-node container by exact name, never another one crictl listed', () => {
    expect(calicoNodeContainerId(CRICTL_PS)).toBe(CALICO_NODE_ID);
    const json = JSON.parse(CRICTL_PS) as { containers: { state: string; metadata: { name: string } }[] };
    json.containers[0]!.state = 'CONTAINER_EXITED';
    expect(calicoNodeContainerId(JSON.stringify(json))).toBeNull();
    json.containers[0]!.state = 'CONTAINER_RUNNING';
    json.containers[0]!.metadata.name = 'calico-node-init';
    expect(calicoNodeContainerId(JSON.stringify(json))).toBeNull();
    expect(calicoNodeContainerId('not json')).toBeNull();
  });
});

/** `k8snet demo [--lab NAME] [--once] [-- TEXT…]`: the whole product on this machine, without Slack (src/demo/demo.ts). */
import { parseArgs } from 'node:util';
import { InvalidInputError } from '../errors.ts';
import { validateLabName } from '../validate.ts';
import { parseSlackCommand } from '../command/grammar.ts';
import { queueSettings } from '../config.ts';
import type { CliCommand } from './main.ts';

const USAGE = `Usage: k8snet demo [--lab NAME] [--once] [-- SLASH-COMMAND-TEXT…]

Brings up the lab (or uses the one that is up), uses the machine's Redis (or starts a private one), starts a
local stand-in of Slack's Web API, \`k8snet bot\` and \`k8snet worker\`, sends a signed
\`/k8snet trace pod-src pod-dest\` (or the text after --) and prints the resulting thread as a person would read
it in Slack. Ctrl-C tears everything down. Needs root (the lab).

  --lab NAME   lab to use or create (default: demo)
  --once       tear down as soon as the thread is complete
  -h, --help   show this help`;

export const demoCommand: CliCommand = {
  summary: 'the whole pipeline on this machine, without Slack',
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        strict: true,
        allowPositionals: true,
        options: {
          lab: { type: 'string' },
          once: { type: 'boolean', default: false },
          help: { type: 'boolean', short: 'h', default: false },
        },
      });
    } catch (err) {
      throw new InvalidInputError('arguments', (err as Error).message);
    }
    if (parsed.values.help) {
      console.log(USAGE);
      return 0;
    }
    const text = parsed.positionals.length > 0 ? parsed.positionals.join(' ') : 'trace pod-src pod-dest';
    // Refuse bad text here too, before anything is built.
    parseSlackCommand(text);
    const lab = validateLabName(parsed.values.lab ?? 'demo');
    let stop!: () => void;
    const stopRequested = new Promise<void>((resolve) => (stop = resolve));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const { runDemo } = await import('../demo/demo.ts');
    return runDemo({
      lab,
      text,
      once: parsed.values.once,
      redisUrl: queueSettings(process.env).redisUrl,
      print: (l) => console.log(l),
      stopRequested,
    });
  },
};

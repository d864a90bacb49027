/** `k8snet pcap FILE`: summarize an existing capture file (pcap or pcapng). */
import { parseArgs } from 'node:util';
import { summarizePcapFile } from '../ops/pcap-file.ts';
import { printOutcome } from './output.ts';
import type { CliCommand } from './main.ts';

const USAGE = `Usage: k8snet pcap FILE [--json]

Summarizes a pcap or pcapng capture: flows by inner 5-tuple with the outer tunnel endpoints (VXLAN, IP-in-IP),
packets, bytes, TCP flags, handshake, resets and retransmissions, and the first packets as tcpdump-style lines.
The file is streamed: memory stays flat whatever its size. A truncated or malformed file is reported (exit 1)
with everything decoded before the problem.

Options:
  --json       print the result as JSON (fields documented in the README)
  -h, --help   show this help`;

export const pcapCommand: CliCommand = {
  summary: 'summarize a capture file',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const [file, ...extra] = positionals;
    if (!file || extra.length > 0) {
      console.error(USAGE);
      return 2;
    }
    const outcome = await summarizePcapFile(file, { onStep: () => undefined, signal: new AbortController().signal });
    return printOutcome(outcome, values.json);
  },
};

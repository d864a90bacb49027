/**
 * The inverse of the grammar: a validated command back to the text `/k8snet …` takes, such that
 * `parseSlackCommand(commandText(c))` gives `c` again. Follow-up buttons carry this text and the bot parses it on
 * click exactly as it parses typed text, so a button can never ask for more than a person could type. Pure.
 */
import type { OperationCommand } from '../ops/run-operation.ts';

const ns = (namespace: string) => (namespace === 'default' ? [] : ['-n', namespace]);
const capture = (c: { enabled: boolean; seconds: number }) =>
  c.enabled ? ['--capture-seconds', String(c.seconds)] : ['--no-capture'];
const family = (f: 4 | 6 | undefined) => (f ? [`--ipv${f}`] : []);

export function commandWords(c: OperationCommand): string[] {
  switch (c.op) {
    case 'trace':
      return [
        'trace',
        c.src,
        c.dstNamespace ? `${c.dstNamespace}/${c.dst}` : c.dst,
        ...ns(c.namespace),
        ...(c.port !== undefined ? ['--port', String(c.port)] : []),
        ...capture(c.capture),
        ...(c.noTest ? ['--no-test'] : []),
        ...family(c.family),
      ];
    case 'nodeport':
      return ['nodeport', String(c.port), ...capture(c.capture), ...family(c.family)];
    case 'svc':
      return ['svc', c.name, ...ns(c.namespace), ...capture(c.capture), ...family(c.family)];
    case 'pod':
    case 'policy':
      return [c.op, c.name, ...ns(c.namespace)];
    case 'routes':
      return ['routes', c.node];
    case 'report':
      return ['report', ...(c.tunnelSampleSeconds ? ['--sample', String(c.tunnelSampleSeconds)] : [])];
  }
}

/**
 * Every word is a validated name, number or flag (no spaces or quotes), so joining with spaces is unambiguous.
 * `cluster`: the cluster it ran on (`--cluster NAME`), so a follow-up runs on the same one.
 */
export function commandText(c: OperationCommand, cluster?: string | null): string {
  return [...commandWords(c), ...(cluster ? ['--cluster', cluster] : [])].join(' ');
}

/** Reads a fixture from test/unit/calico/fixtures without its first `# Source:` line (the provenance stays in the file). */
import { readFileSync } from 'node:fs';

export function calicoFixture(name: string): string {
  const text = readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
  return text.startsWith('# Source:') ? text.slice(text.indexOf('\n') + 1) : text;
}

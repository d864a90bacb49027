/**
 * The dependency rule of .dependency-cruiser.cjs (run in CI by `npm run depcheck`): the real tree keeps it, and a
 * tree that breaks it — a parser importing an operation, a queue module importing Slack, production importing the
 * lab — is refused, each with the rule's name. So the rule cannot silently stop checking anything.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseOptions, type IConfiguration } from 'dependency-cruiser';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const config = createRequire(import.meta.url)(join(ROOT, '.dependency-cruiser.cjs')) as IConfiguration;

async function violations(baseDir: string, withTsConfig: boolean): Promise<string[]> {
  const options: ICruiseOptions = {
    baseDir,
    ruleSet: { forbidden: config.forbidden ?? [] },
    validate: true,
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    ...(withTsConfig ? { tsConfig: { fileName: join(ROOT, 'tsconfig.json') } } : {}),
  };
  const { output } = await cruise(['src'], options);
  if (typeof output === 'string') throw new Error(output);
  return output.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
}

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'k8snet-layering-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe('the dependency rule', () => {
  it('holds for the source tree', async () => {
    expect(await violations(ROOT, true)).toEqual([]);
  }, 60_000);

  it('fails a tree that breaks it, naming each rule', async () => {
    const dir = tree({
      'src/ops/trace.ts': 'export const trace = 1;\n',
      'src/slack/slack-blocks.ts': 'export const blocks = 1;\n',
      'src/lab/plan.ts': 'export const plan = 1;\n',
      'src/parse/route-text.ts': "import { trace } from '../ops/trace.ts';\nexport const parsed = trace;\n",
      'src/queue/worker-host.ts': "import { blocks } from '../slack/slack-blocks.ts';\nexport const host = blocks;\n",
      'src/ops/routes-op.ts': "import { plan } from '../lab/plan.ts';\nexport const routes = plan;\n",
      'src/model/report.ts': "import { trace } from '../ops/trace.ts';\nexport const report = trace;\n",
    });
    try {
      expect(await violations(dir, false)).toEqual([
        'lab-only-for-its-users: src/ops/routes-op.ts → src/lab/plan.ts',
        'model-is-a-leaf: src/model/report.ts → src/ops/trace.ts',
        'nothing-below-ops-imports-upward: src/model/report.ts → src/ops/trace.ts',
        'nothing-below-ops-imports-upward: src/parse/route-text.ts → src/ops/trace.ts',
        'slack-behind-the-chat-port: src/queue/worker-host.ts → src/slack/slack-blocks.ts',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

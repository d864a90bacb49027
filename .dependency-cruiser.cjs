/**
 * The layering of src/ (README "Layout", ../shared/STYLE.md): run by `npm run depcheck` in CI, and proven to fail on
 * a deliberate violation by test/unit/deploy/layering.test.ts. Arrows point down only: chat and processes → queue →
 * operations → adapters and walkers → parsers and models. The lab and the demo stay out of the shipped path.
 */
const BELOW_OPS = '^src/(parse|policy|calico|model|dataplane|cluster|node|pcap|render|net)/';
const ABOVE_OPS = '^src/(ops|queue|schedule|audit|observability|slack|cli|service|demo|lab)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'lab-only-for-its-users',
      comment: 'src/lab is imported only by itself, the CLI lab commands (lab, --lab) and the demo',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(lab|demo)/', '^src/cli/(lab-command|deps|demo-command)\\.ts$'] },
      to: { path: '^src/lab/' },
    },
    {
      name: 'demo-only-for-the-cli',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/demo/', '^src/cli/demo-command\\.ts$'] },
      to: { path: '^src/demo/' },
    },
    {
      name: 'slack-behind-the-chat-port',
      comment: 'queue, schedules, audit, operations and everything below them know no Slack (src/queue/chat-port.ts)',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(slack|service|cli|demo)/'] },
      to: { path: ['^src/slack/', '(^|/)node_modules/@slack/'] },
    },
    {
      name: 'slack-sdk-only-in-slack',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/slack/' },
      to: { path: '(^|/)node_modules/@slack/' },
    },
    {
      name: 'client-node-only-in-cluster',
      comment: 'src/cluster is the one adapter of @kubernetes/client-node; everything else gets our own types',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cluster/' },
      to: { path: '(^|/)node_modules/@kubernetes/client-node/' },
    },
    {
      name: 'nothing-below-ops-imports-upward',
      severity: 'error',
      from: { path: BELOW_OPS },
      to: { path: ABOVE_OPS },
    },
    {
      name: 'parsers-and-models-are-pure',
      comment: 'parse/, policy/, model/, calico/ read text and data: no adapters, no file or process I/O',
      severity: 'error',
      from: { path: '^src/(parse|policy|model|calico)/' },
      to: {
        path: [
          '^src/(node|cluster|dataplane|pcap|render|observability|config\\.ts)',
          '^(node:)?(fs|fs/promises|child_process|http|https|dgram)$',
        ],
      },
    },
    {
      name: 'grammar-knows-no-lab-or-env',
      severity: 'error',
      from: { path: '^src/command/' },
      to: { path: '^src/(lab/|config\\.ts|cluster/|node/|slack/|queue/)' },
    },
    {
      name: 'model-is-a-leaf',
      severity: 'error',
      from: { path: '^src/model/' },
      to: { path: '^src/', pathNot: '^src/model/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
  },
};

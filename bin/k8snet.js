#!/usr/bin/env node
// Entry point for `npx k8snet`. The sources are TypeScript run by Node's built-in type stripping, which
// needs Node >= 24 here; say so plainly instead of failing on the first `.ts` import.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`k8snet needs Node.js 24 or newer (this is ${process.version}). Run: source scripts/ensure-node.sh`);
  process.exit(1);
}
// Node compiles the TypeScript sources on every start unless the compile cache keeps them (~0.15 s saved per run).
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

/**
 * `node src/lab/api-server/main.ts --state-dir DIR [--port N]`: the lab API server as its own process, started by
 * `lab up`. Reads DIR/plan.json, writes DIR/kubeconfig and then DIR/api-server.json {pid, port, url} once listening
 * (lab up waits for both), and exits cleanly on SIGTERM/SIGINT, removing api-server.json. The lab's Felix
 * (policy-reconciler.ts) runs here too, on the server's policy store: every node is programmed before
 * api-server.json appears, and again on every policy write; it reports to DIR/felix-status.json and this log.
 */
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { LabPlan } from '../plan.ts';
import { validatePort } from '../../validate.ts';
import { describeError } from '../../errors.ts';
import { labApiPaths, startLabApiServer } from './server.ts';
import { PolicyReconciler } from '../policy-reconciler.ts';

export { startLabApiServer } from './server.ts';
export { writeKubeconfig } from './kubeconfig.ts';

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { 'state-dir': { type: 'string' }, port: { type: 'string' } } });
  const stateDir = values['state-dir'];
  if (!stateDir) throw new Error('--state-dir DIR is required');
  // 0 (the default): an ephemeral port, published in api-server.json.
  const port = values.port === undefined || values.port === '0' ? 0 : validatePort(Number(values.port), '--port');
  const planPath = `${stateDir}/plan.json`;
  const plan = JSON.parse(await readFile(planPath, 'utf8')) as LabPlan;
  // Objects were "created" when lab up wrote the plan, so AGE counts from then across server restarts.
  const createdAt = (await stat(planPath)).mtime;
  const server = await startLabApiServer({ stateDir, plan, port, createdAt });
  const reconciler = new PolicyReconciler({
    plan,
    store: server.policies,
    statusPath: labApiPaths(stateDir).felixStatus,
    log: (line) => console.log(`${new Date().toISOString()} ${line}`),
  });
  await reconciler.start();
  const info = labApiPaths(stateDir).info;
  await writeFile(info, `${JSON.stringify({ pid: process.pid, port: server.port, url: server.url })}\n`);
  console.log(`lab API server for "${plan.lab}" listening on ${server.url} (kubeconfig ${server.kubeconfigPath})`);
  const stop = (signal: string) => {
    console.log(`lab API server stopping on ${signal}`);
    reconciler.stop();
    void server
      .close()
      .then(() => rm(info, { force: true }))
      .then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`lab API server: ${describeError(err)}`);
    process.exit(1);
  });
}

/** What the BGP lab tests share: waiting for a BIRD session to reach a state, read as birdcl prints it. */
import { run } from './lab.ts';

/** BIRD's hold time in the lab is 9 s (src/lab/bird.ts): a blocked or stopped session is down within it. */
const BIRD_WAIT_MS = 30_000;

/**
 * Polls `birdcl -s socket show protocols protocol` every second (bounded) until the protocol's line matches `want`;
 * returns that line. `what` names the session in the error.
 */
export async function waitForBirdSession(
  socket: string,
  protocol: string,
  want: RegExp,
  what: string,
): Promise<string> {
  const deadline = Date.now() + BIRD_WAIT_MS;
  let line = '';
  while (Date.now() < deadline) {
    const out = await run(['birdcl', '-s', socket, 'show', 'protocols', protocol], 5_000);
    line = out.stdout.split('\n').find((l) => l.startsWith(protocol)) ?? '';
    if (want.test(line)) return line;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`${what} never matched ${want}: ${line}`);
}

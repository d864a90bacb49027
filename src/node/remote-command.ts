/**
 * The one place an argument vector becomes the command line SSH carries (the protocol sends a string, which the
 * node's login shell parses). Every argument is POSIX single-quoted unless it is plainly safe, every command is
 * bounded on the node by coreutils `timeout`, and a constant watchdog stops it the moment our channel closes.
 */
import { K8snetError } from '../errors.ts';
import type { NodeCommand } from './types.ts';

/** Seconds coreutils `timeout` waits after SIGTERM before it sends SIGKILL. */
export const KILL_AFTER_SECONDS = 2;

/** Characters no shell gives a meaning to; anything else is quoted. */
const SAFE_ARGUMENT = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * POSIX single-quoting: inside '…' nothing is special; a ' itself becomes '\'' (close, escaped quote, reopen).
 * `always` quotes even plainly safe words (for lines people copy, like `export NAME='value'`).
 */
export function shellQuote(argv: readonly string[], options: { always?: boolean } = {}): string {
  return argv
    .map((a) => {
      if (a.includes('\0')) throw new K8snetError('invalid_input', 'a command argument contains a NUL byte');
      return SAFE_ARGUMENT.test(a) && !options.always ? a : `'${a.replaceAll("'", `'\\''`)}'`;
    })
    .join(' ');
}

/**
 * Without a pty, sshd does not signal a command when its channel closes: a quiet `tcpdump` or a `sleep` would live
 * until its time cap. This constant wrapper (the command arrives as "$@", nothing is interpolated) runs the command
 * in the background, watches the channel's stdin from a second job, and kills the command when we close our end
 * (EOF). When the command ends first, the watcher is stopped and the command's status is the session's.
 */
export const KILL_ON_CLOSE_SCRIPT =
  'exec 3<&0; "$@" & p=$!; (cat <&3 >/dev/null; kill $p) >/dev/null 2>&1 & w=$!; wait $p; s=$?; kill $w 2>/dev/null; exit $s';
/** $0 of the watchdog: what `ps` shows for it on the node. */
export const KILL_ON_CLOSE_NAME = 'k8snet-watch';

/** What the node runs for a catalogue command, as an argument vector (before quoting). */
export function remoteArgv(command: NodeCommand, user: string): string[] {
  const sudo = command.privileged && user !== 'root' ? ['sudo', '-n'] : [];
  const timeout = ['timeout', `--kill-after=${KILL_AFTER_SECONDS}`, String(command.timeoutSeconds)];
  return ['sh', '-c', KILL_ON_CLOSE_SCRIPT, KILL_ON_CLOSE_NAME, ...sudo, ...timeout, ...command.argv];
}

/** The line sent over SSH for a command run as `user`. */
export function remoteCommandLine(command: NodeCommand, user: string): string {
  return shellQuote(remoteArgv(command, user));
}

/** coreutils `timeout` exits 124 when it stopped the command with SIGTERM, 137 (128 + 9) after SIGKILL. */
export function exitMeansTimedOut(exitCode: number | null): boolean {
  return exitCode === 124 || exitCode === 137;
}

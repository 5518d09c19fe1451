// Every step's script travels on the channel's stdin, never on a command line: `ps` shows the
// arguments of every process to every local user of the server, and the scripts hold the
// user's own pre-restart and post-deploy. The command line is a fixed, short bootstrap; the
// channel carries the script's bytes, then the step's own stdin (the .env text, the source's
// tar stream, the lock's open end), which reaches the script unchanged.

import { PassThrough, type Readable } from 'node:stream'
import { sh, type ShellText } from '../shell.js'

/** The exit code of a bootstrap that could not read the whole script: nothing of it ran. */
export const BOOTSTRAP_FAILED = 125

/**
 * Reads exactly $1 bytes into a file only its owner can read (mktemp makes it 0600), runs it
 * with the rest of stdin as its stdin, and removes it however the step ends. dd's fullblock
 * asks read() for no more than the bytes still missing, so nothing past the script is consumed
 * (a buffered reader such as head -c may take the step's data with it).
 */
export const BOOTSTRAP = [
  `f=$(mktemp) || exit ${BOOTSTRAP_FAILED}`,
  // No single quote in here: the line stays one plain single-quoted word.
  'trap "rm -f -- \\"$f\\"" EXIT',
  // timeout(1) signals the whole process group: leave through the EXIT trap.
  'trap "exit 129" HUP; trap "exit 130" INT; trap "exit 143" TERM',
  'dd bs="$1" count=1 iflag=fullblock of="$f" 2>/dev/null',
  `[ "$(wc -c <"$f")" -eq "$1" ] || { echo "the script of the step did not arrive whole" >&2; exit ${BOOTSTRAP_FAILED}; }`,
  'sh "$f"'
].join('; ')

/** The script as sent: never empty (dd takes no block of 0 bytes), ending with a line break. */
export function scriptBytes(command: ShellText): Buffer {
  return Buffer.from(`${command.text}\n`)
}

/**
 * The command line of a step: the bootstrap, told the script's length, under `timeout` (which
 * ends the step on the server too), through `sudo -n` for a privileged step.
 */
export function bootstrapCommand(length: number, timeoutSeconds: number, sudo: boolean): ShellText {
  const body = sh`timeout -k 5 ${timeoutSeconds} sh -c ${BOOTSTRAP} sh ${length}`
  return sudo ? sh`sudo -n -- ${body}` : body
}

/** The channel's stdin: the script, then the step's own stdin, byte for byte; open as long as it is. */
export function stdinWithScript(script: Buffer, stdin?: string | Readable): Readable {
  const channel = new PassThrough()
  channel.write(script)
  if (stdin === undefined) channel.end()
  else if (typeof stdin === 'string') channel.end(Buffer.from(stdin))
  else stdin.pipe(channel)
  return channel
}

// The deploy lock: flock(1) on <deploy-path>/.deploy.lock, held by a command that lives as long
// as the runner's connection (remote/lock.ts keeps it open).

import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import { auditAppend, auditRemoval, type AuditEntry } from './audit.js'
import { layout } from './layout.js'
import { unitPrefix } from './sandbox.js'

/** The lock command's exit code when another deploy held the lock for the whole wait. */
export const LOCK_BUSY = 75

/**
 * Prints `WAITING <holder>` while another deploy holds the lock, then `STALE <text>` (what a
 * killed run left behind, or nothing) and `LOCKED`; holds the lock until stdin closes. `first`,
 * a step's command, runs under the lock as soon as it is taken (one round trip fewer), its
 * output framed (`THEN <exit> <stdout bytes> <stderr bytes>`, then both: parseFirst). With
 * `audit`, the line the runner sends on stdin as it lets go is appended to the audit log
 * (server/audit.ts).
 */
export function lockCommand(
  s: Settings,
  holder: string,
  waitSeconds: number,
  first?: ShellText,
  audit?: AuditEntry
): ShellText {
  const { root, lock, stepsLock, state } = layout(s)
  const removing = s.operation.kind === 'remove'
  return script(
    raw('set -u'),
    // Root writes here from now on: a folder that is not root's is taken only when empty (made
    // root's first), never followed through a link, and someone else's files are left alone.
    sh`if [ -L ${root} ] || { [ -e ${root} ] && [ "$(stat -c %u ${root})" != 0 ]; }; then`,
    sh`  if [ ! -L ${root} ] && [ -d ${root} ] && [ -z "$(ls -A ${root})" ]; then chown root:root ${root} && chmod 755 ${root}; fi`,
    sh`  if [ -L ${root} ] || [ "$(stat -c %u ${root})" != 0 ] || [ -L ${lock} ]; then`,
    sh`    printf '%s\n' ${`${root} exists, is not empty and is not root's: deploy-path must be a new folder, an empty one or one this action made`} >&2; exit 1`,
    raw('  fi'),
    raw('fi'),
    sh`mkdir -p ${root}`,
    // Both locks root's alone (0600): a lock anyone may open, the app user could hold, and stop
    // every step and every deploy. Made so under umask 077; older hosts' made so here.
    sh`if [ -L ${stepsLock} ]; then rm -f ${stepsLock}; fi; [ -f ${stepsLock} ] || (umask 077; : > ${stepsLock})`,
    sh`[ -e ${lock} ] || (umask 077; : > ${lock})`,
    sh`chmod 600 ${stepsLock} ${lock}`,
    sh`exec 9<>${lock}`,
    raw('if ! flock -n 9; then'),
    sh`  echo "WAITING $(head -c 500 ${lock} | tr '\n' ' ')"`,
    sh`  if ! flock -w ${waitSeconds} 9; then echo "the deploy lock is held by: $(head -c 500 ${lock})" >&2; exit ${LOCK_BUSY}; fi`,
    raw('fi'),
    // Taken on a lock file a remove took away meanwhile: no lock at all (the next run makes a new one).
    sh`if [ ! ${lock} -ef /dev/fd/9 ]; then echo ${'the deploy lock was removed while this run waited for it (a remove took the project off the host): run again'} >&2; exit 1; fi`,
    sh`echo "STALE $(head -c 500 ${lock} | tr '\n' ' ')"`,
    sh`printf '%s\n' ${holder} > ${lock}`,
    raw('echo LOCKED'),
    first
      ? script(
          raw('then=$(mktemp -d)'),
          raw('('),
          first,
          raw(') > "$then/out" 2> "$then/err"'),
          raw('echo "THEN $? $(wc -c < "$then/out") $(wc -c < "$then/err")"'),
          raw('cat "$then/out" "$then/err"; rm -rf "$then"')
        )
      : undefined,
    // Held until the runner closes our stdin, or the connection drops; the steps a killed run
    // left in the sandbox end before the lock is let go.
    audit ? (removing ? auditRemoval(s, audit) : auditAppend(s, audit)) : raw('cat > /dev/null'),
    sh`systemctl stop ${`${unitPrefix(s)}-*.service`} 2>/dev/null || true`,
    // A step still running as root (a switch finishing after the connection dropped) ends
    // before the next deploy may start: the executor sends each holding the steps lock (holdingStepsLock).
    sh`flock -x -w ${Math.ceil(s.commandTimeoutMs / 1000) + 10} ${stepsLock} true || true`,
    // A remove that took `.deploy/` away takes the lock files with it, and the deploy path
    // when nothing is left in it (the data kept, or with force nothing).
    removing
      ? sh`if [ -d ${state} ]; then : > ${lock}; else ${lockFilesGone(s)}; fi`
      : sh`: > ${lock}`
  )
}

/**
 * A step's script, holding the steps lock (shared) for as long as it or anything it started runs.
 * The executor (remote/executor.ts) sends every root step so.
 */
export function holdingStepsLock(s: Settings, command: ShellText): ShellText {
  const { stepsLock } = layout(s)
  return script(sh`if [ -f ${stepsLock} ]; then exec 8<${stepsLock}; flock -s 8; fi`, command)
}

export type LockProgress =
  | { state: 'pending' }
  | { state: 'waiting'; holder: string }
  | { state: 'locked'; staleHolder: string }

/** Reads the lock command's output so far. */
export function parseLockOutput(stdout: string): LockProgress {
  if (/^LOCKED$/m.test(stdout))
    return { state: 'locked', staleHolder: /^STALE (.*)$/m.exec(stdout)?.[1].trim() ?? '' }
  const waiting = /^WAITING (.*)$/m.exec(stdout)
  return waiting ? { state: 'waiting', holder: waiting[1].trim() } : { state: 'pending' }
}

/** The first step's result, once the lock command's output holds all of it (lockCommand). */
export function parseFirst(
  output: Buffer
): { code: number; stdout: string; stderr: string } | undefined {
  // latin1: one character per byte, so offsets in the text are offsets in the output.
  const text = output.toString('latin1')
  const locked = text.search(/^LOCKED$/m)
  if (locked < 0) return undefined
  const frame = /^THEN (\d+) (\d+) (\d+)\n/m.exec(text.slice(locked))
  if (!frame) return undefined
  const start = locked + frame.index + frame[0].length
  const [code, outBytes, errBytes] = frame.slice(1).map(Number)
  if (output.length < start + outBytes + errBytes) return undefined
  return {
    code,
    stdout: output.subarray(start, start + outBytes).toString(),
    stderr: output.subarray(start + outBytes, start + outBytes + errBytes).toString()
  }
}

/** The lock files removed, and the deploy path with them when nothing else is left in it. */
export function lockFilesGone(s: Settings): ShellText {
  const { root, lock, stepsLock } = layout(s)
  return sh`rm -f ${lock} ${stepsLock}; rmdir ${root} 2>/dev/null || true`
}

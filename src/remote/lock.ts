import { PassThrough } from 'node:stream'
import { auditLine, type AuditEntry } from '../server/audit.js'
import { layout } from '../server/layout.js'
import { LOCK_BUSY, lockCommand, parseFirst, parseLockOutput } from '../server/lock.js'
import type { Step } from '../server/step.js'
import type { Settings } from '../settings.js'
import { RemoteError, type RunResult, type Transport } from './connection.js'

export interface HeldLock {
  /** the holder a killed run left behind, when we took its lock over */
  staleHolder: string
  /** the result of the step sent with the lock, run as soon as the lock was taken */
  first?: Promise<RunResult>
  /** lets the lock go; `result`: how the run ended, for the audit log */
  release(result?: string): Promise<void>
}

/**
 * Takes the deploy lock from a command that stays open for the whole deploy. The kernel drops the
 * lock when that command ends, so a run that is killed (its SSH connection gone) cannot leave the
 * host locked; the holder text it leaves shows as stale.
 */
export async function acquireLock(
  transport: Transport,
  s: Settings,
  holder: string,
  waitSeconds: number,
  onWait: (holder: string) => void,
  /** a step to run under the lock as soon as it is taken, in the same command (root's) */
  first?: Step,
  /** what the run is: its line in the audit log is appended as it lets the lock go */
  audit?: AuditEntry
): Promise<HeldLock> {
  const stdin = new PassThrough()
  const watch = lockWatch(onWait, first !== undefined)
  const finished: Promise<RunResult> = transport.run(
    lockCommand(s, holder, waitSeconds, first?.command, audit),
    {
      step: { id: 'lock', title: 'Take the deploy lock', first: first?.id },
      privileged: true,
      stdin,
      timeoutMs: 7 * 24 * 3600 * 1000,
      onStdout: watch.read
    }
  )
  const { locked, firstDone } = watch
  const outcome = await Promise.race([locked, finished])
  if (typeof outcome !== 'string') {
    const message = outcome.stderr.trim() || outcome.stdout.trim()
    throw new RemoteError(
      'command',
      outcome.code === LOCK_BUSY
        ? `${message}. Another deploy to this host is running; it was waited for ${waitSeconds} s.`
        : `could not take the deploy lock ${layout(s).lock}: ${message}`
    )
  }
  return {
    staleHolder: outcome,
    first: first && firstResult(first, firstDone, finished, s.commandTimeoutMs),
    release: async (result) => {
      if (audit && result) stdin.write(`${auditLine(new Date(), audit, result)}\n`)
      stdin.end()
      await finished
    }
  }
}

/** Reads the lock command's output as it comes: the wait, the lock taken, the first step's answer. */
function lockWatch(onWait: (holder: string) => void, withFirst: boolean) {
  let output = Buffer.alloc(0)
  let waited = false
  let lockedAt = 0
  let answered = false
  let onLocked: (staleHolder: string) => void = () => {}
  let onFirst: (result: RunResult) => void = () => {}
  return {
    locked: new Promise<string>((resolve) => (onLocked = resolve)),
    firstDone: new Promise<RunResult>((resolve) => (onFirst = resolve)),
    read(chunk: Buffer): void {
      output = Buffer.concat([output, chunk])
      const progress = parseLockOutput(output.toString())
      if (progress.state === 'waiting' && !waited) {
        waited = true
        onWait(progress.holder)
      }
      if (progress.state === 'locked' && !lockedAt) {
        lockedAt = Date.now()
        onLocked(progress.staleHolder)
      }
      const result = withFirst && lockedAt && !answered ? parseFirst(output) : undefined
      if (result) {
        answered = true
        onFirst({ ...result, durationMs: Date.now() - lockedAt })
      }
    }
  }
}

/** The first step's result; an error when the lock command ends or the time runs out before it. */
function firstResult(
  first: Step,
  done: Promise<RunResult>,
  finished: Promise<RunResult>,
  timeoutMs: number
): Promise<RunResult> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          // The executor names the step.
          new RemoteError('timeout', `it took longer than ${timeoutMs / 1000} s (command-timeout)`)
        ),
      timeoutMs
    )
    timer.unref()
  })
  const ended = finished.then((result): never => {
    throw new RemoteError(
      'command',
      `${first.title}: the lock command ended first (exit ${result.code}): ${result.stderr.trim()}`
    )
  })
  return Promise.race([done, ended, late]).finally(() => clearTimeout(timer))
}

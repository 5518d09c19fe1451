import { PassThrough } from 'node:stream'
import { layout } from '../server/layout.js'
import { LOCK_BUSY, lockCommand, parseLockOutput } from '../server/lock.js'
import type { Settings } from '../settings.js'
import { RemoteError, type RunResult, type Transport } from './connection.js'

export interface HeldLock {
  /** the holder a killed run left behind, when we took its lock over */
  staleHolder: string
  release(): Promise<void>
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
  onWait: (holder: string) => void
): Promise<HeldLock> {
  const stdin = new PassThrough()
  let stdout = ''
  let waited = false
  let onLocked: (value: string) => void = () => {}
  const locked = new Promise<string>((resolve) => (onLocked = resolve))
  const finished: Promise<RunResult> = transport.run(lockCommand(s, holder, waitSeconds), {
    step: { id: 'lock', title: 'Take the deploy lock' },
    privileged: true,
    stdin,
    timeoutMs: 7 * 24 * 3600 * 1000,
    onStdout: (chunk) => {
      stdout += chunk.toString()
      const progress = parseLockOutput(stdout)
      if (progress.state === 'waiting' && !waited) {
        waited = true
        onWait(progress.holder)
      }
      if (progress.state === 'locked') onLocked(progress.staleHolder)
    }
  })
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
    release: async () => {
      stdin.end()
      await finished
    }
  }
}

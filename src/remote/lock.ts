import { PassThrough } from 'node:stream'
import type { Settings } from '../settings.js'
import { raw, script, sh } from '../shell.js'
import { RemoteError, type RunResult, type Transport } from './connection.js'

export interface HeldLock {
  /** the holder a killed run left behind, when we took its lock over */
  staleHolder: string
  release(): Promise<void>
}

const LOCK_BUSY = 75

/**
 * Takes `<deploy-path>/.deploy.lock` with flock(1) from a command that stays open for the whole
 * deploy. The kernel drops the lock when that command ends, so a run that is killed (its SSH
 * connection gone) cannot leave the host locked; the holder text it leaves shows as stale.
 */
export async function acquireLock(
  transport: Transport,
  s: Settings,
  holder: string,
  waitSeconds: number,
  onWait: (holder: string) => void
): Promise<HeldLock> {
  const lock = `${s.deployPath}/.deploy.lock`
  const command = script(
    raw('set -u'),
    sh`mkdir -p ${s.deployPath}`,
    sh`exec 9<>${lock}`,
    raw('if ! flock -n 9; then'),
    sh`  echo "WAITING $(head -c 500 ${lock} | tr '\n' ' ')"`,
    sh`  if ! flock -w ${waitSeconds} 9; then echo "the deploy lock is held by: $(head -c 500 ${lock})" >&2; exit ${LOCK_BUSY}; fi`,
    raw('fi'),
    sh`echo "STALE $(head -c 500 ${lock} | tr '\n' ' ')"`,
    sh`printf '%s\n' ${holder} > ${lock}`,
    raw('echo LOCKED'),
    // Held until the runner closes our stdin, or the connection drops.
    raw('cat > /dev/null'),
    sh`: > ${lock}`
  )
  const stdin = new PassThrough()
  let stdout = ''
  let onLocked: (value: string) => void = () => {}
  const locked = new Promise<string>((resolve) => (onLocked = resolve))
  const finished: Promise<RunResult> = transport.run(command, {
    privileged: true,
    stdin,
    timeoutMs: 7 * 24 * 3600 * 1000,
    onStdout: (chunk) => {
      stdout += chunk.toString()
      const waiting = /^WAITING (.*)$/m.exec(stdout)
      if (waiting && !stdout.includes('\nLOCKED')) onWait(waiting[1].trim())
      if (/^LOCKED$/m.test(stdout)) onLocked(/^STALE (.*)$/m.exec(stdout)?.[1].trim() ?? '')
    }
  })
  const outcome = await Promise.race([locked, finished])
  if (typeof outcome !== 'string') {
    const message = outcome.stderr.trim() || outcome.stdout.trim()
    throw new RemoteError(
      'command',
      outcome.code === LOCK_BUSY
        ? `${message}. Another deploy to this host is running; it was waited for ${waitSeconds} s.`
        : `could not take the deploy lock ${lock}: ${message}`
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

import { holdingStepsLock } from '../server/lock.js'
import { StepError } from '../server/cause.js'
import type { Phase, Step } from '../server/step.js'
import type { Settings } from '../settings.js'
import { RemoteError, type RunOptions, type RunResult, type Transport } from './connection.js'

export interface StepLog {
  info(message: string): void
  /** text that came from the server: printed so the runner reads no command in it */
  remote(text: string): void
  group<T>(title: string, body: () => Promise<T>): Promise<T>
  /** server text printed as it comes (stdout, line by line), as `remote` prints it */
  stream(): { write(chunk: Buffer): void; end(): void }
}

/**
 * Runs steps on one host, logs them, and adds up the time spent in each phase. It is the one
 * place a step's script is sent, so every root step, whatever sent it, holds the steps lock while
 * it and what it started run (server/lock.ts): the deploy lock's holder waits for them. A step
 * run as the SSH user (the health request, the calendars' check) changes nothing of root's and
 * could not open that lock, which is root's alone; the host check is sent inside the lock
 * command itself (`receive`).
 */
export class Executor {
  readonly phaseMs = new Map<Phase, number>()
  /** steps sent to the host, each waited for */
  roundTrips = 0

  constructor(
    private readonly transport: Transport,
    private readonly log: StepLog,
    private readonly settings: Settings
  ) {}

  /**
   * Runs a step; a non-zero exit is a StepError unless `allowFailure`. `stream`: its stdout is
   * printed as it comes (a management command's), not when it ends; `quiet`: its stdout is not
   * printed here, the caller prints it (logs: each part in a group of its own).
   */
  async run(
    step: Step,
    options: RunOptions & { allowFailure?: boolean; stream?: boolean; quiet?: boolean } = {}
  ): Promise<RunResult> {
    this.roundTrips++
    const { allowFailure, stream, quiet, ...rest } = options
    const sent = async () => {
      const streamed = stream ? this.log.stream() : undefined
      try {
        const result = await this.transport.run(
          step.privileged ? holdingStepsLock(this.settings, step.command) : step.command,
          {
            ...rest,
            onStdout: streamed?.write,
            privileged: step.privileged,
            step: { id: step.id, title: step.title }
          }
        )
        // Its stdout printed already, or the caller's to print: what is left to print is stderr.
        return { result, streamed: !!streamed || !!quiet }
      } finally {
        streamed?.end()
      }
    }
    return this.record(step, sent, allowFailure)
  }

  /**
   * A step that was sent with another command (the lock's first step): logged, timed and checked
   * as if it ran alone, in no round trip of its own.
   */
  async receive(step: Step, result: Promise<RunResult>): Promise<RunResult> {
    return this.record(step, async () => ({ result: await result }))
  }

  private async record(
    step: Step,
    sent: () => Promise<{ result: RunResult; streamed?: boolean }>,
    allowFailure = false
  ): Promise<RunResult> {
    return this.log.group(step.title, async () => {
      const { result, streamed } = await sent().catch((error: unknown) => {
        // The transport knows how long, not what: name the step that ran out of time.
        if (error instanceof RemoteError && error.stage === 'timeout') {
          throw new RemoteError('timeout', `${step.title}: ${error.message}`, error.output)
        }
        throw error
      })
      this.phaseMs.set(step.phase, (this.phaseMs.get(step.phase) ?? 0) + result.durationMs)
      const output = ((streamed ? '' : result.stdout) + result.stderr).trim()
      if (output) this.log.remote(output)
      this.log.info(`(${step.id}: exit ${result.code}, ${result.durationMs} ms)`)
      if (result.code !== 0 && !allowFailure) throw new StepError(step, result)
      return result
    })
  }

  /** Runs steps in order and stops at the first failure. */
  async runAll(steps: Step[]): Promise<void> {
    for (const step of steps) await this.run(step)
  }
}

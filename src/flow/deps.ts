// What one host's flow needs from the outside world (main.ts fills it in; tests script it).

import type { Readable } from 'node:stream'
import type { RunResult } from '../remote/connection.js'
import type { HeldLock } from '../remote/lock.js'
import type { Rollout } from '../rollout.js'
import type { HostFacts } from '../server/facts.js'
import type { Step } from '../server/step.js'
import type { Settings } from '../settings.js'
import type { RequirementsFile } from '../workspace.js'
import type { LockedDependencies } from '../lockfile/types.js'
import type { SentInstall } from '../server/release.js'

/** What the flow needs from the outside world: all of its side effects come through here. */
export interface HostDeps {
  settings: Settings
  rollout: Rollout
  isFirst: boolean
  /** runs the processes and schedules that must run once in a fleet; isFirst when not said */
  runsSingletons?: boolean
  /** runs one step (remote/executor.ts) */
  run(
    step: Step,
    options?: {
      stdin?: string | Readable
      allowFailure?: boolean
      stream?: boolean
      /** its stdout is the caller's to print (logs: part by part) */
      quiet?: boolean
    }
  ): Promise<RunResult>
  /** a step sent with the lock, its result then told by `receive` (one round trip fewer) */
  takeLock(first?: Step): Promise<HeldLock>
  /** another instance's deploy lock, taken without waiting (a preview the limits remove); throws when held */
  lockOther(other: Settings): Promise<HeldLock>
  /** logs, times and checks a step whose result came with another command (remote/executor.ts) */
  receive(step: Step, result: Promise<RunResult>): Promise<RunResult>
  /** what a step reads on stdin: the .env text, the source as a tar stream */
  stdin(kind: NonNullable<Step['stdin']>): string | Readable
  /** a preview the limits removed (its GitHub deployments are marked inactive after the run) */
  previewRemoved?(name: string): void
  /** the venv key of the source's requirements for this host's interpreter */
  venvKey(facts: HostFacts): string | null
  /** the requirements files that key covers (null when none can: see workspace.ts); a lock's list for this host */
  requirements(facts: HostFacts): RequirementsFile[] | null
  /** the lock resolved for this host's Python (flow/dependencies.ts); undefined without a lock */
  lock?(facts: HostFacts): LockPlan | undefined
  /** wheels: runner: downloads and checks the lock's files for this host; '' or the problem */
  fetchWheels?(facts: HostFacts): Promise<string>
  /** what this run deploys, as one hash (deploy-key.ts); null when nothing can stand for it */
  deployKey(facts: HostFacts): string | null
  /** health-url from the runner: '' when healthy, else the problem */
  checkPublicUrl(): Promise<string>
  info(message: string): void
  /** text that came from the server */
  remote(text: string): void
  warn(message: string, title?: string): void
  notice(message: string, title: string): void
}

/** What a host installs from a lock, or why it cannot. */
export type LockPlan =
  | {
      ok: true
      /** what the venv's key covers and the venv step sends: the hashed list, pip's flags */
      files: Array<{ path: string; text: string }>
      install: SentInstall
      deps: LockedDependencies
    }
  | { ok: false; problem: string }

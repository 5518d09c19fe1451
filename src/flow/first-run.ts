// What a run must say at once, before it changes anything: the problems the first Django process
// found (server/preflight.ts), all of them in one message.

import type { RunResult } from '../remote/connection.js'
import { projectModules, StepError } from '../server/cause.js'
import { parseProjectSettings, type ProjectSettings } from '../server/discover.js'
import { parsePreflight, PROBLEMS, problemsMessage } from '../server/preflight.js'
import type { Step } from '../server/step.js'
import type { HostDeps } from './deps.js'
import type { RunRecord } from './record.js'
import { Stop } from './stop.js'

/**
 * The run's first Django process found problems: the run stops with all of them, before anything
 * is migrated or switched. A missing requirements file is a warning.
 */
export function stopOnProblems(
  deps: Pick<HostDeps, 'warn'>,
  record: RunRecord,
  step: Step,
  result: RunResult
): void {
  const found = parsePreflight(result.stdout)
  if (found && result.code === PROBLEMS) {
    record.failedStep = { title: step.title, output: result.stdout + result.stderr }
    throw new Stop(problemsMessage(found, record.facts?.live ?? ''))
  }
  for (const warning of found?.warnings ?? []) deps.warn(warning, 'Before the deploy')
}

/** The discover step, the run's first Django process: what the project's settings say. */
export async function discoverSettings(
  deps: Pick<HostDeps, 'warn' | 'run' | 'settings'>,
  record: RunRecord,
  step: Step
): Promise<ProjectSettings | undefined> {
  const result = await deps.run(step, { allowFailure: true })
  stopOnProblems(deps, record, step, result)
  if (result.code !== 0) throw new StepError(step, result, projectModules(deps.settings))
  return parseProjectSettings(result.stdout)
}

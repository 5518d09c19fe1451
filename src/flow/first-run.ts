// What a run must say at once, before it changes anything: the problems the first Django process
// found (server/preflight.ts), all of them in one message; a health path that does not exist.

import type { RunResult } from '../remote/connection.js'
import { projectModules, StepError } from '../server/cause.js'
import { parseProjectSettings, type ProjectSettings } from '../server/discover.js'
import { parsePreflight, PROBLEMS, problemsMessage } from '../server/preflight.js'
import type { Step } from '../server/step.js'
import type { HealthResult } from '../server/health.js'
import type { Settings } from '../settings.js'
import type { HostDeps } from './deps.js'
import type { RunRecord } from './record.js'
import { Stop } from './stop.js'

/**
 * The run's first Django process found problems: the run stops with all of them, before anything
 * is migrated or switched. A missing requirements file is a warning.
 */
export function stopOnProblems(
  deps: Pick<HostDeps, 'warn' | 'settings'>,
  record: RunRecord,
  step: Step,
  result: RunResult
): void {
  const found = parsePreflight(result.stdout)
  if (found && result.code === PROBLEMS) {
    record.failedStep = { title: step.title, output: result.stdout + result.stderr }
    throw new Stop(problemsMessage(found, record.facts?.live ?? '', projectModules(deps.settings)))
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

/** health-expect as the action's default gives it: it says nothing of a 404. */
const DEFAULT_EXPECT = '200-499'

/**
 * health-expect was given, and accepts a 404: a health path that does not exist is meant. The
 * default (200-499) accepts it too, but says nothing: a path copied from an example answers 404.
 */
export function acceptsMissingPath(s: Pick<Settings, 'healthExpect'>): boolean {
  const given = s.healthExpect.map((r) => `${r.min}-${r.max}`).join(',')
  return given !== DEFAULT_EXPECT && s.healthExpect.some((r) => r.min <= 404 && 404 <= r.max)
}

/**
 * The health check got 404: health-path does not exist in the app, so the check proves little.
 * What it is and how to fix it, or undefined.
 */
export function missingHealthPath(
  s: Pick<Settings, 'healthPath' | 'healthExpect'>,
  health: HealthResult
): { cause: string; fix: string } | undefined {
  if (health.status !== 404 || acceptsMissingPath(s)) return undefined
  return {
    cause: `health-path ${s.healthPath} does not exist: the app answered 404 to it`,
    fix:
      'Add a view that answers 200 at that path (three lines: see the health view in docs/project.md), ' +
      "set health-path to a path the app serves (e.g. /admin/login/), or set health-expect (e.g. '200-404') to say a 404 is fine."
  }
}

/**
 * A health path that does not exist fails a first deploy (`previous` empty): its cause and fix;
 * on a later deploy it is a warning, and undefined.
 */
export function healthPathFails(
  deps: Pick<HostDeps, 'warn' | 'settings'>,
  health: HealthResult,
  previous: string
): { cause: string; fix: string } | undefined {
  const missing = health.healthy ? missingHealthPath(deps.settings, health) : undefined
  if (!missing || !previous) return missing
  deps.warn(`${missing.cause}. ${missing.fix}`, 'Health path')
  return undefined
}

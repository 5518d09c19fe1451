// A dry run changes nothing that serves: the settings and the migration plan of the new code,
// read from a staged upload that is never a release and is removed at the end (or, with no live
// release or no source, the settings of the release that exists), and the live files. It prints
// the deploy's own plan and the diff.

import { assumedSettings, planSteps, type Plan } from '../plan.js'
import { configDiff, parseConfigFiles, readConfigStep } from '../server/config.js'
import type { ProjectSettings } from '../server/discover.js'
import type { HostFacts } from '../server/facts.js'
import { alreadyLiveCheck } from './already-live.js'
import { readForDryRun, type DatabaseWatch } from './database.js'
import type { HostDeps } from './deps.js'
import { alreadyLiveMessage, dryRunPlanMessage } from './notices.js'
import { processesDiff } from './processes.js'

/**
 * The plan's step titles and the diff (none for a host that lacks what provision installs); `planWith` plans with what the settings say (assumed:
 * as the deploy will, from the live release's record).
 */
export async function dryRun(
  deps: HostDeps,
  facts: HostFacts,
  newRelease: string,
  database: DatabaseWatch,
  planWith: (projectSettings: ProjectSettings, assumed: boolean) => Plan
): Promise<{ titles: string[]; diff: string } | undefined> {
  // A host that lacks what the host check needs (provision) cannot be read further: the dry run
  // said which packages the deploy installs first (flow/provision.ts).
  if (facts.provisionFirst) return undefined
  // Listed as the deploy runs it: no step of their own to read settings it can assume.
  const assumed = !!assumedSettings(deps.settings, facts, newRelease)
  const first = planWith({}, assumed)
  // The schedules' calendars are read-only to check: a wrong one fails the dry run too, first.
  for (const step of first.release.filter((r) => r.id === 'check-calendars')) await deps.run(step)
  const read = await readForDryRun(deps, facts, newRelease, first.target, database)
  // What the settings printed is for the deploy's own Django process to check and record: the
  // dry run runs neither.
  const plan = planWith({ ...read.projectSettings, printed: undefined }, assumed)
  database.noticeRollback(deps, plan)
  const live = parseConfigFiles((await deps.run(readConfigStep(plan.files))).stdout)
  const diff = configDiff(plan.files, live) + (await processesDiff(plan, deps.run))
  const titles = planSteps(plan).map((step) => step.title)
  if (alreadyLiveCheck(deps.settings, facts, deps.deployKey(facts)))
    deps.info(alreadyLiveMessage(facts.live, true))
  deps.info(dryRunPlanMessage(deps.settings, titles))
  const changes = plan.dependencies?.changes
  if (changes)
    deps.info(
      changes.length > 0
        ? `The venv would change:\n${changes.join('\n')}`
        : 'The venv would not change: the live one holds these packages'
    )
  deps.remote(diff)
  return { titles, diff }
}

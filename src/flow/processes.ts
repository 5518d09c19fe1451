// The flow's part of the background processes: the dry run's diff of their units.

import type { Plan } from '../plan.js'
import type { RunResult } from '../remote/connection.js'
import { parseConfigFiles } from '../server/config.js'
import { processDiff } from '../server/processes.js'
import type { Step } from '../server/step.js'

/** The dry run's diff of the process units against the live ones ('' when there are none). */
export async function processesDiff(
  plan: Plan,
  run: (step: Step) => Promise<RunResult>
): Promise<string> {
  if (!plan.processes) return ''
  const live = parseConfigFiles((await run(plan.processes.read)).stdout)
  return `\n${processDiff(plan.processes.files, live)}`
}

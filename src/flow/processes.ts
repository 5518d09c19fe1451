// The flow's part of the background processes: the dry run's diff of their units, and what a
// person reads first when a process did not stay up on a healthy web release.

import type { Plan } from '../plan.js'
import type { RunResult } from '../remote/connection.js'
import { causeOf, hintFor } from '../server/cause.js'
import { parseConfigFiles } from '../server/config.js'
import { parseStayedDown, processDiff } from '../server/processes.js'
import type { Step } from '../server/step.js'

/** The process's error first (from its journal), what happened, what was done, what to do. */
export function stayedDownMessage(restartStderr: string, target: string, done: string): string {
  const { units, journal } = parseStayedDown(restartStderr)
  const cause = causeOf(journal)
  const hint = hintFor(journal)
  return (
    (cause ? `${cause}\n` : '') +
    `${units.join(', ') || 'a process'} of ${target} did not stay up after the web release was healthy.` +
    done +
    (hint ? `\n${hint}` : '')
  )
}

/** The dry run's diff of the process units against the live ones ('' when there are none). */
export async function processesDiff(
  plan: Plan,
  run: (step: Step) => Promise<RunResult>
): Promise<string> {
  if (!plan.processes) return ''
  const live = parseConfigFiles((await run(plan.processes.read)).stdout)
  return `\n${processDiff(plan.processes.files, live)}`
}

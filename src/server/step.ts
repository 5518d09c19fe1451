// A step is one shell command run on the server, as data: the planner returns steps, one
// executor runs them, so the dry run, the unit tests and the deploy see the same commands.

import { raw, script, type ShellText } from '../shell.js'

/** The phases of a deploy, in order: the job summary's timing table has one column each. */
export const PHASES = [
  'connect',
  'upload',
  'venv',
  'django',
  'gates',
  'restart',
  'health',
  'cleanup'
] as const

export type Phase = (typeof PHASES)[number]

export interface Step {
  id: string
  phase: Phase
  title: string
  command: ShellText
  /** runs as root (through sudo -n when the SSH user is not root) */
  privileged: boolean
  /** what the step reads on stdin; the flow supplies it (secrets and the source never travel in the command) */
  stdin?: 'dotenv' | 'source' | 'preview-database' | 'pip-index' | 'wheels'
}

/**
 * Steps that need no answer in between, sent as one script (one round trip): `before` run
 * first, each stopping the script when it fails; the result is `step`, by its id and title.
 */
export function folded(before: Step[], step: Step): Step {
  if (before.length === 0) return step
  return {
    ...step,
    command: script(raw('set -eu'), ...before.map((b) => b.command), step.command)
  }
}

/** `before` sent with the first of `steps` (folded); alone when there is no step to go with. */
export function foldedIntoFirst(before: Step[], steps: Step[]): Step[] {
  const [first, ...rest] = steps
  return first ? [folded(before, first), ...rest] : before
}

// The operations besides a deploy, as steps (data): pure functions that return what would run on
// a host; the executor runs them, the dry run lists them. Each runs in the live release (the one
// `current` names, read under the deploy lock), as the app user in the Django steps' sandbox.

import type { Operation, OperationOf, Settings } from '../settings.js'
import { sh } from '../shell.js'
import type { ProjectSettings } from './discover.js'
import { appWritable } from './django.js'
import { inRelease } from './sandbox.js'
import type { Step } from './step.js'

type ManageOperation = OperationOf<'manage'>

/** What an operation does, as a person reads it: the title of its summary, its audit line. */
export function operationTitle(op: Operation): string {
  switch (op.kind) {
    case 'manage':
      return manageTitle(op)
    case 'maintenance':
      return `maintenance ${op.on ? 'on' : 'off'}`
    case 'remove':
      return op.force ? 'remove --force' : 'remove'
    case 'logs':
      return `logs: the last ${op.lines} lines${op.since ? ` since ${op.since.given}` : ''}`
    case 'deploy':
      return 'deploy'
  }
}

/** The command as a person reads it: the title of its step, its summary. */
export function manageTitle(op: ManageOperation): string {
  return `manage.py ${op.line}`
}

/**
 * `python manage.py <argv>` in `live`, each word one quoted word (no shell reads it), as the app
 * user in the sandbox, writing only what the web app may; stderr into stdout, so that the output
 * comes in the order it was printed and is printed as it comes.
 */
export function manageStep(
  s: Settings,
  op: ManageOperation,
  live: string,
  projectSettings: ProjectSettings = {}
): Step {
  return {
    id: 'manage',
    phase: 'django',
    title: manageTitle(op),
    privileged: true,
    command: inRelease(
      s,
      live,
      'manage',
      appWritable(s, live, projectSettings),
      sh`exec python manage.py ${op.argv} 2>&1`
    )
  }
}

/** The steps a management command runs in the live release, in order. */
export function manageSteps(
  s: Settings,
  op: ManageOperation,
  live: string,
  projectSettings?: ProjectSettings
): Step[] {
  return [manageStep(s, op, live, projectSettings)]
}

// One host's operation (manage...): the deploy lock taken and the host read as a deploy does,
// the operation's steps (server/operations.ts) run in the live release, a result value returned.
// Nothing of the release or what serves changes.

import type { HostOutcome, OperationReport } from '../report/report.js'
import type { RunResult } from '../remote/connection.js'
import type { HostFacts } from '../server/facts.js'
import { inspectStep, parseFacts } from '../server/inspect.js'
import { operationSteps, manageTitle, type ManageOperation } from '../server/operations.js'
import type { HostDeps } from './deps.js'
import {
  errorMessage,
  nothingDeployedMessage,
  operationDryRunMessage,
  operationFailedMessage,
  staleLockWarning
} from './notices.js'

/** What an operation needs from the outside world (main fills it in; tests script it). */
export type OperationDeps = Pick<
  HostDeps,
  'settings' | 'takeLock' | 'receive' | 'run' | 'info' | 'warn'
> & {
  /** the host's name, as the messages say it */
  host: string
}

/** How many of the command's last lines the report keeps. */
const LAST_LINES = 20

/** Runs the settings' operation on one host, holding the deploy lock; never throws. */
export async function runOperation(deps: OperationDeps): Promise<HostOutcome> {
  const op = deps.settings.operation as ManageOperation
  const report: OperationReport = { command: manageTitle(op) }
  let live = ''
  try {
    const check = inspectStep(deps.settings)
    const lock = await deps.takeLock(check)
    if (lock.staleHolder) deps.warn(staleLockWarning(lock.staleHolder))
    let ended: HostOutcome | undefined
    try {
      const sent = lock.first ?? Promise.reject(new Error('the host check did not run'))
      const facts = parseFacts((await deps.receive(check, sent)).stdout)
      live = facts.live
      ended = await operate(deps, op, facts, report)
      return ended
    } finally {
      await lock.release(auditResult(ended, report))
    }
  } catch (error) {
    // A command that ran out of time: what it printed until then.
    const said = (error as { output?: unknown }).output
    return outcome('failure', live, errorMessage(error), {
      ...report,
      lastLines: typeof said === 'string' && said ? lastLines(said) : report.lastLines
    })
  }
}

/** The operation's steps in the live release; a step that ends non-zero fails the host. */
async function operate(
  deps: OperationDeps,
  op: ManageOperation,
  facts: HostFacts,
  report: OperationReport
): Promise<HostOutcome> {
  const s = deps.settings
  if (!facts.live) return outcome('failure', '', nothingDeployedMessage(deps.host), report)
  const steps = operationSteps(s, op, facts.live, facts.projectSettings)
  if (s.dryRun) {
    for (const step of steps) deps.info(`would run: ${step.title}`)
    const message = operationDryRunMessage(report.command, facts.live)
    return outcome('success', facts.live, message, { ...report, dryRun: true })
  }
  for (const step of steps) {
    const result: RunResult = await deps.run(step, { allowFailure: true, stream: true })
    const output = result.stdout + result.stderr
    report.exitCode = result.code
    report.lastLines = lastLines(output)
    if (result.code !== 0) {
      const message = operationFailedMessage({
        command: report.command,
        host: deps.host,
        live: facts.live,
        code: result.code,
        output
      })
      return outcome('failure', facts.live, message, report)
    }
  }
  return outcome('success', facts.live, '', report)
}

function outcome(
  status: 'success' | 'failure',
  live: string,
  message: string,
  operation: OperationReport
): HostOutcome {
  return { release: live, previousRelease: live, status, gates: [], message, operation }
}

function lastLines(output: string): string {
  return output.trimEnd().split('\n').slice(-LAST_LINES).join('\n')
}

/** The audit log's result: the status, and the command's exit status when it ran. */
function auditResult(ended: HostOutcome | undefined, report: OperationReport): string {
  const status = ended?.status ?? 'failure'
  return report.exitCode === undefined ? status : `${status} (exit ${report.exitCode})`
}

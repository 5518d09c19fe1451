// One host's operation (manage, logs...): the deploy lock taken and the host read as a deploy does,
// then the operation's own module (flow/manage.ts...) runs its steps (server/operations.ts); a
// result value returned, the audit line written as the lock is let go.

import type { HostOutcome, OperationReport } from '../report/report.js'
import type { HostFacts } from '../server/facts.js'
import { inspectStep, parseFacts } from '../server/inspect.js'
import { operationTitle } from '../server/operations.js'
import { maintenance } from './maintenance.js'
import { logs } from './logs.js'
import { manage } from './manage.js'
import { remove } from './remove.js'
import { errorMessage, staleLockWarning } from './notices.js'
import { lastLines, operationOutcome, type OperationDeps } from './operation-outcome.js'

/** Runs the settings' operation on one host, holding the deploy lock; never throws. */
export async function runOperation(deps: OperationDeps): Promise<HostOutcome> {
  const report: OperationReport = { command: operationTitle(deps.settings.operation) }
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
      ended = await operate(deps, facts, report)
      return ended
    } finally {
      await lock.release(auditResult(ended, report))
    }
  } catch (error) {
    // A command that ran out of time: what it printed until then.
    const said = (error as { output?: unknown }).output
    return operationOutcome('failure', live, errorMessage(error), {
      ...report,
      lastLines: typeof said === 'string' && said ? lastLines(said) : report.lastLines
    })
  }
}

/** The operation of the settings, by its kind: each kind is a module of its own. */
function operate(
  deps: OperationDeps,
  facts: HostFacts,
  report: OperationReport
): Promise<HostOutcome> {
  const op = deps.settings.operation
  switch (op.kind) {
    case 'manage':
      return manage(deps, op, facts, report)
    case 'maintenance':
      return maintenance(deps, op, facts, report)
    case 'remove':
      return remove(deps, op, report)
    case 'logs':
      return logs(deps, op, facts, report)
    case 'deploy':
      throw new Error('a deploy is no operation')
  }
}

/** The audit log's result: the status, and the command's exit status when it ran. */
function auditResult(ended: HostOutcome | undefined, report: OperationReport): string {
  const status = ended?.status ?? 'failure'
  return report.exitCode === undefined ? status : `${status} (exit ${report.exitCode})`
}

// manage: a management command in the live release, its output streamed, its exit status kept.

import type { HostOutcome, OperationReport } from '../report/report.js'
import type { RunResult } from '../remote/connection.js'
import type { HostFacts } from '../server/facts.js'
import { manageSteps } from '../server/operations.js'
import type { OperationOf } from '../settings.js'
import {
  nothingDeployedMessage,
  operationDryRunMessage,
  operationFailedMessage
} from './notices.js'
import { lastLines, operationOutcome, type OperationDeps } from './operation-outcome.js'

/** The command's steps in the live release; a step that ends non-zero fails the host. */
export async function manage(
  deps: OperationDeps,
  op: OperationOf<'manage'>,
  facts: HostFacts,
  report: OperationReport
): Promise<HostOutcome> {
  const s = deps.settings
  if (!facts.live) return operationOutcome('failure', '', nothingDeployedMessage(deps.host), report)
  const steps = manageSteps(s, op, facts.live, facts.projectSettings)
  if (s.dryRun) {
    for (const step of steps) deps.info(`would run: ${step.title}`)
    const message = operationDryRunMessage(report.command, facts.live)
    return operationOutcome('success', facts.live, message, { ...report, dryRun: true })
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
      return operationOutcome('failure', facts.live, message, report)
    }
  }
  return operationOutcome('success', facts.live, '', report)
}

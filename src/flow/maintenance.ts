// maintenance: on or off, on every host. The switch is one step (server/maintenance.ts); the
// report says the host's state after it (before it, in a dry run or a failure).

import type { HostOutcome, OperationReport } from '../report/report.js'
import type { HostFacts } from '../server/facts.js'
import {
  maintenanceOffStep,
  maintenanceOnStep,
  parseMaintenanceState
} from '../server/maintenance.js'
import type { OperationOf } from '../settings.js'
import {
  lastErrorLine,
  maintenanceDryRunMessage,
  maintenanceFailedMessage,
  maintenanceMessage
} from './notices.js'
import { operationOutcome, type OperationDeps } from './operation-outcome.js'

export async function maintenance(
  deps: OperationDeps,
  op: OperationOf<'maintenance'>,
  facts: HostFacts,
  report: OperationReport
): Promise<HostOutcome> {
  const s = deps.settings
  const step = op.on ? maintenanceOnStep(s) : maintenanceOffStep(s)
  const before = facts.maintenance ? 'on' : 'off'
  if (s.dryRun) {
    deps.info(`would run: ${step.title}`)
    const message = maintenanceDryRunMessage(deps.host, before, op.on)
    const dry = { ...report, dryRun: true }
    return { ...operationOutcome('success', facts.live, message, dry), maintenance: before }
  }
  const result = await deps.run(step, { allowFailure: true })
  if (result.code !== 0) {
    const cause = lastErrorLine(result.stderr) || `the switch ended with exit status ${result.code}`
    const message = maintenanceFailedMessage(deps.host, cause, before)
    return { ...operationOutcome('failure', facts.live, message, report), maintenance: before }
  }
  const after = parseMaintenanceState(result.stdout) ?? (op.on ? 'on' : 'off')
  const message = maintenanceMessage(s, deps.host, after)
  return { ...operationOutcome('success', facts.live, message, report), maintenance: after }
}

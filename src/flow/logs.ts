// logs: each log's last lines on the host (the live web instance's journal, each process and
// schedule unit's, the site's lines of nginx's error log, the audit log), read in one step; each
// part printed inert in a folded group of its own and kept for the job summary.

import { randomBytes } from 'node:crypto'
import type { HostOutcome, OperationReport } from '../report/report.js'
import type { HostFacts } from '../server/facts.js'
import { logsPlan, parseLogs } from '../server/logs.js'
import type { OperationOf } from '../settings.js'
import { LOGS_DRY_RUN, nothingDeployedLogsMessage } from './notices.js'
import { operationOutcome, type OperationDeps } from './operation-outcome.js'

/** Reads the logs in one step; nothing deployed is a success that says so (see docs). */
export async function logs(
  deps: OperationDeps,
  op: OperationOf<'logs'>,
  facts: HostFacts,
  report: OperationReport
): Promise<HostOutcome> {
  const s = deps.settings
  if (s.dryRun) deps.info(LOGS_DRY_RUN)
  // The run's own marker: the server's text cannot know it, nor print it raw (parts are base64).
  const nonce = randomBytes(16).toString('hex')
  const plan = logsPlan(s, op, facts, nonce)
  const result = await deps.run(plan.step, { quiet: true })
  const parts = parseLogs(result.stdout, nonce, plan.parts)
  for (const p of parts)
    await deps.group(p.title, async () =>
      p.text.trim() === '' ? deps.info('(no lines)') : deps.remote(p.text)
    )
  report.logs = parts.map(({ title, text }) => ({ title, text }))
  if (!facts.live) {
    const message = nothingDeployedLogsMessage(s.instanceName, deps.host)
    deps.warn(message, 'Nothing deployed')
    return operationOutcome('success', '', message, report)
  }
  return operationOutcome('success', facts.live, '', report)
}

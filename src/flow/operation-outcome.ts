// What every operation's module (flow/manage.ts...) shares: what it is handed, and how it says
// how it ended.

import type { HostOutcome, OperationReport } from '../report/report.js'
import type { HostDeps } from './deps.js'

/** What an operation needs from the outside world (main fills it in; tests script it). */
export type OperationDeps = Pick<
  HostDeps,
  'settings' | 'takeLock' | 'receive' | 'run' | 'info' | 'remote' | 'warn'
> & {
  /** the host's name, as the messages say it */
  host: string
  /** a folded group of the log (logs: one per part) */
  group<T>(title: string, body: () => Promise<T>): Promise<T>
}

/** How many of the command's last lines the report keeps. */
const LAST_LINES = 20

export function operationOutcome(
  status: 'success' | 'failure',
  live: string,
  message: string,
  operation: OperationReport
): HostOutcome {
  return { release: live, previousRelease: live, status, gates: [], message, operation }
}

export function lastLines(output: string): string {
  return output.trimEnd().split('\n').slice(-LAST_LINES).join('\n')
}

// What one host's report says, gathered in one place as the run learns it: the flow records here,
// and `outcome()` is the one place its result is put together (main adds the name and timing).

import type { Plan } from '../plan.js'
import type { GateResult, HostOutcome } from '../report/report.js'
import type { CertificateFacts } from '../server/acme.js'
import type { ServerFacts } from '../server/asgi.js'
import type { HealthResult } from '../server/health.js'
import type { HostFacts } from '../server/facts.js'
import type { ProcessState } from '../server/processes.js'
import { DatabaseWatch } from './database.js'

export class RunRecord {
  /** what the host check said; none when the run stopped before it */
  facts?: HostFacts
  /** the run's plan, from the first planning on */
  plan?: Plan
  readonly gates: GateResult[] = []
  health?: HealthResult
  diagnostics?: string
  failedStep?: { title: string; output: string }
  /** what the run learnt and did about the database */
  readonly database = new DatabaseWatch()
  server?: ServerFacts
  processes?: ProcessState[]
  /** tls: auto: the certificate the certificate step reported */
  certificate?: CertificateFacts
  /** a dry run: its plan's step titles and the diff of the configuration */
  dryRun?: { titles: string[]; diff: string }
  /** provision, apt-packages: what the run installed, or (dry run) would install */
  packages?: HostOutcome['packages']
  /** the release that serves when the run found it already deployed (nothing planned) */
  alreadyLive?: string

  outcome(status: HostOutcome['status'], message: string): HostOutcome {
    return {
      release: this.alreadyLive ?? this.plan?.target ?? '',
      previousRelease: this.facts?.live ?? '',
      status,
      gates: this.gates,
      message,
      httpStatus: this.health?.status,
      healthDurationMs: this.health?.durationMs,
      failedStep: this.failedStep,
      diagnostics: this.diagnostics,
      files: this.plan?.files,
      dependencies: this.plan?.dependencies,
      database: this.database.outcome(),
      server: this.server,
      processes: this.processes,
      processFiles: this.plan?.processes?.files.units.flatMap((u) => u.files),
      certificate: this.certificateReport(),
      // The maintenance a run put up comes down before it ends: the state is the one it found.
      ...(this.facts ? { maintenance: this.facts.maintenance ? 'on' : 'off' } : {}),
      ...(this.packages ? { packages: this.packages } : {}),
      ...(this.dryRun ? { plan: this.dryRun.titles, diff: this.dryRun.diff } : {})
    }
  }

  private certificateReport(): HostOutcome['certificate'] {
    const certificate = this.certificate ?? this.facts?.certificate
    const renewalProblem = this.facts?.renewalProblem
    if (!certificate && !renewalProblem) return undefined
    return { daysLeft: -1, names: [], ...certificate, renewalProblem }
  }
}

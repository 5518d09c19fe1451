// The only code that speaks to GitHub: step outputs, the job summary, annotations.

import * as core from '@actions/core'
import { Output } from '../constants.js'
import { restoreHint } from '../server/migrations.js'
import { describeServer, isAsgi, workerClass } from '../asgi.js'
import { describeVersions, type ServerFacts } from '../server/asgi.js'
import { allFiles, type ConfigFile, type ConfigFiles } from '../server/config.js'
import type { ProcessState } from '../server/processes.js'
import type { CertificateFacts } from '../server/acme.js'
import type { RemovalReport } from '../server/remove.js'
import { PHASES } from '../server/step.js'
import { secretValues, type Settings } from '../settings.js'

export interface GateResult {
  name: string
  passed: boolean
  output: string
}

/** What a run learnt and did about the database (server/migrations.ts). */
export interface DatabaseReport {
  /** the migrations migrate would apply, in order */
  pending?: string[]
  /** the ones it applied */
  applied?: string[]
  /** app.name: the operation that cannot be reversed */
  irreversible?: string[]
  /** the backup taken before the migrations */
  backup?: { path: string; bytes: number }
  /** rollback: releases whose migrations stay applied, and the backup taken before them */
  ahead?: string[]
  aheadBackup?: string
  /** rollback with restore-database: the backup restored */
  restored?: string
}

/** What an operation (manage...) did on a host: report/operation.ts says it. */
export interface OperationReport {
  /** what ran, as a person reads it (manage.py migrate --noinput) */
  command: string
  /** its exit status; undefined when it did not run to its end */
  exitCode?: number
  /** the last lines it printed */
  lastLines?: string
  /** a dry run: what would run, nothing ran */
  dryRun?: boolean
  /** remove: what went and what stayed */
  removal?: RemovalReport
  /** logs: each log's title and its last lines, as the host sent them */
  logs?: Array<{ title: string; text: string }>
}

export interface HostReport {
  host: string
  release: string
  previousRelease: string
  status: 'success' | 'failure' | 'rolled-back' | 'skipped'
  gates: GateResult[]
  phaseMs: Record<string, number>
  /** commands sent over the connection, each waited for (the lock's counts once) */
  roundTrips?: number
  durationMs: number
  message: string
  httpStatus?: number
  healthDurationMs?: number
  failedStep?: { title: string; output: string }
  diagnostics?: string
  files?: ConfigFiles
  diff?: string
  plan?: string[]
  database?: DatabaseReport
  /** what the import step found serving the release (ASGI) */
  server?: ServerFacts
  /** the processes and schedules on the host after the run, and the release each runs */
  processes?: ProcessState[]
  /** the units of the processes and schedules this run rendered for the host */
  processFiles?: ConfigFile[]
  /** tls: auto: the site's certificate, and a failed renewal */
  certificate?: CertificateFacts & { renewalProblem?: string }
  /** an operation's run instead of a deploy's */
  operation?: OperationReport
  /** provision, apt-packages: the Debian packages the run installed, or a dry run would */
  packages?: { installed?: string[]; wouldInstall?: string[] }
  /** whether the site answers with the maintenance page after the run (as it was, when unchanged) */
  maintenance?: 'on' | 'off'
  /** a lock's: where the venv's packages came from, and which they are */
  dependencies?: { summary: string; packages: string[]; changes?: string[] }
}

/** What one host's run says (flow/host.ts): the report without the host's name and timing. */
export type HostOutcome = Omit<HostReport, 'host' | 'phaseMs' | 'durationMs'>

/** A host's report: what its run said, its name, and where the time went. */
export function hostReport(
  host: string,
  outcome: HostOutcome,
  time: { phaseMs?: ReadonlyMap<string, number>; roundTrips?: number; durationMs: number }
): HostReport {
  return {
    host,
    ...outcome,
    phaseMs: Object.fromEntries(time.phaseMs ?? []),
    ...(time.roundTrips !== undefined ? { roundTrips: time.roundTrips } : {}),
    durationMs: time.durationMs
  }
}

/** What a host that ran no flow says: skipped, or its connection failed. */
export function unreachedOutcome(status: 'skipped' | 'failure', message: string): HostOutcome {
  return { release: '', previousRelease: '', status, gates: [], message }
}

/** The run's overall status: the worst of its hosts'. */
export function overallStatus(reports: HostReport[]): 'success' | 'failure' | 'rolled-back' {
  if (reports.some((r) => r.status === 'failure')) return 'failure'
  if (reports.some((r) => r.status === 'rolled-back')) return 'rolled-back'
  return reports.every((r) => r.status === 'success') ? 'success' : 'failure'
}

/** The maintenance output: every reached host's state, or mixed. */
export function maintenanceOutput(reports: HostReport[]): string {
  const states = new Set(reports.flatMap((r) => (r.maintenance ? [r.maintenance] : [])))
  return states.size > 1 ? 'mixed' : ([...states][0] ?? '')
}

export function hostsOutput(reports: HostReport[]): string {
  return JSON.stringify(
    reports.map((r) => ({
      host: r.host,
      // The release the host serves now.
      release: r.status === 'success' ? r.release : r.previousRelease,
      'attempted-release': r.release,
      status: r.status,
      'http-status': r.httpStatus ?? null,
      'duration-ms': r.durationMs,
      processes: (r.processes ?? []).map((p) => ({
        name: p.name,
        unit: p.unit,
        state: p.state,
        release: p.release
      }))
    }))
  )
}

const escapeCell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')

/**
 * Text from the run as Markdown a person reads: the first line (the cause) in bold, each line
 * its own, nothing in it read as Markdown or HTML.
 */
export const escape = (line: string) =>
  line.replace(/[\\`*_[\]<>#|~]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : `\\${c}`))

export function prose(text: string): string[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '')
  return lines.map((line, i) => `${i === 0 ? `**${escape(line)}**` : escape(line)}  `)
}
export const fence = (text: string, lang = '') =>
  `\n\n\`\`\`${lang}\n${text.replace(/```/g, '`\u200b``')}\n\`\`\`\n\n`

export const ICON = { success: '✅', failure: '❌', 'rolled-back': '↩️', skipped: '⏭️' }

/** The health column: the status and time, or why there was none. */
function healthCell(r: HostReport): string {
  if (r.httpStatus === undefined) return '–'
  const answer = r.httpStatus === 0 ? 'no answer' : String(r.httpStatus)
  return `${answer} in ${r.healthDurationMs ?? 0} ms`
}

function certificateLines(host: string, c: NonNullable<HostReport['certificate']>): string[] {
  const names = c.names.length > 0 ? c.names.join(', ') : 'the site'
  const lines =
    c.daysLeft >= 0
      ? [`${host}: the certificate for ${names} has ${c.daysLeft} days left.`]
      : [`${host}: no certificate on the host yet.`]
  if (c.renewalProblem)
    lines.push('', `⚠️ Its last renewal on the host failed: ${escapeCell(c.renewalProblem)}`)
  return lines
}

/**
 * The job summary: what happened first (for a failure: the cause, what the action did, what to
 * do next), then the hosts and the time, then the logs, folded.
 */
export function summaryMarkdown(s: Settings, reports: HostReport[]): string {
  const status = overallStatus(reports)
  const lines: string[] = [
    `## ${ICON[status]} Django deploy of ${s.instanceName}: ${status}${s.dryRun ? ' (dry run)' : ''}`
  ]
  for (const r of reports) {
    if (r.message && r.status !== 'success')
      lines.push('', `### ${ICON[r.status]} ${r.host}: ${r.status}`, '', ...prose(r.message))
  }
  // After the causes: the site, which server and mode run, and what each host has of them.
  lines.push(
    '',
    `Site: ${escape(s.environmentUrl)}`,
    '',
    `Served by ${escape(describeServer(s))}${isAsgi(s) ? ', WebSockets passed through nginx' : ''}`
  )
  for (const r of reports) {
    if (r.server) lines.push('', `${escape(r.host)}: ${escape(describeVersions(r.server))}`)
    if (r.dependencies)
      lines.push('', `${escape(r.host)}: dependencies from ${escape(r.dependencies.summary)}`)
  }
  lines.push('', '| host | release | previous | gates | health | time | result |')
  lines.push('|---|---|---|---|---|---|---|')
  for (const r of reports) {
    const gates = r.gates.map((g) => `${g.passed ? '✅' : '❌'} ${g.name}`).join('<br>') || '–'
    lines.push(
      `| ${escapeCell(r.host)} | \`${r.release}\` | ${r.previousRelease ? `\`${r.previousRelease}\`` : '–'} | ${gates} | ${healthCell(r)} | ${(r.durationMs / 1000).toFixed(1)} s | ${ICON[r.status]} ${r.status} |`
    )
  }
  lines.push(
    '',
    '### Where the time went',
    '',
    `| host | ${PHASES.join(' | ')} | round trips |`,
    `|---|${PHASES.map(() => '---:').join('|')}|---:|`
  )
  for (const r of reports) {
    lines.push(
      `| ${escapeCell(r.host)} | ${PHASES.map((p) => (r.phaseMs[p] !== undefined ? `${(r.phaseMs[p] / 1000).toFixed(1)} s` : '–')).join(' | ')} | ${r.roundTrips ?? '–'} |`
    )
  }
  if (reports.some((r) => r.processes?.length)) {
    lines.push(
      '',
      '### Processes',
      '',
      '| host | process | unit | state | release |',
      '|---|---|---|---|---|'
    )
    for (const r of reports)
      for (const p of r.processes ?? [])
        lines.push(
          `| ${escapeCell(r.host)} | ${escapeCell(p.name)} | \`${p.unit}\` | ${escapeCell(p.state)} | \`${p.release}\` |`
        )
  }
  for (const r of reports) lines.push(...hostDetails(r))
  return lines.join('\n') + '\n'
}

/**
 * The database section: what migrate applies (or applied), what cannot be reversed, the backup,
 * and after a rollback where the schema stands and how to restore it.
 */
function databaseLines(r: HostReport): string[] {
  const d = r.database
  if (!d) return []
  const lines: string[] = ['', `### Database (${escapeCell(r.host)})`, '']
  const code = (text: string) => `\`${text.replace(/`/g, "'")}\``
  if (d.pending)
    lines.push(
      d.pending.length === 0
        ? '- No migrations to apply.'
        : `- ${d.applied ? 'Applied' : 'Migrations to apply'}: ${d.pending.map(code).join(', ')}`
    )
  if (d.pending?.length && !d.applied && r.status !== 'success' && !r.plan)
    lines.push('- Not applied: the deploy stopped before they were.')
  for (const line of d.irreversible ?? [])
    lines.push(`- ⚠️ Irreversible: ${code(line)} (found in the plan read before migrate)`)
  if (d.backup)
    lines.push(`- Backup before the migrations: ${code(d.backup.path)} (${d.backup.bytes} bytes)`)
  if (d.ahead?.length && d.restored)
    lines.push(
      `- Restored the database from ${code(d.restored)}: the migrations of ${d.ahead.map(code).join(', ')} are undone, and so are the rows written since that backup.`
    )
  else if (d.ahead?.length) {
    lines.push(
      `- ⚠️ The schema stays ahead of the code: ${d.ahead.map(code).join(', ')} applied migrations that stay applied.`
    )
    lines.push(
      d.aheadBackup
        ? `- The backup taken before them: ${code(d.aheadBackup)}. To restore it: ${code(restoreHint(d.aheadBackup))}.`
        : '- No backup was taken before them (backup: false).'
    )
  }
  return lines
}

/** What a host's run left to read, folded where it is long: the failure, plan, diff and files. */
/** A dry run's venv: what would change against the live venv when it was read, else the list. */
function venvLines(d: NonNullable<HostReport['dependencies']>): string[] {
  if (!d.changes) return d.packages
  return d.changes.length > 0 ? d.changes : ['(no change: the live venv holds these packages)']
}

function hostDetails(r: HostReport): string[] {
  const lines: string[] = []
  if (r.message && r.status === 'success') lines.push('', `${r.host}: ${r.message}`)
  if (r.packages?.installed)
    lines.push(
      '',
      `${escape(r.host)}: installed the Debian packages ${r.packages.installed.map((p) => `\`${p}\``).join(', ')}`
    )
  if (r.packages?.wouldInstall)
    lines.push(
      '',
      `${escape(r.host)}: would install the Debian packages ${r.packages.wouldInstall.map((p) => `\`${p}\``).join(', ')}`
    )
  lines.push(...databaseLines(r))
  if (r.certificate) lines.push('', ...certificateLines(r.host, r.certificate))
  if (r.failedStep) {
    lines.push(
      `<details><summary>Remote log of the failed step: ${r.failedStep.title}</summary>`,
      fence(r.failedStep.output.slice(-20000)),
      '</details>'
    )
  }
  const failedGate = r.gates.find((g) => !g.passed)
  if (failedGate)
    lines.push(
      `<details open><summary>Gate output: ${failedGate.name}</summary>`,
      fence(failedGate.output),
      '</details>'
    )
  if (r.diagnostics)
    lines.push(
      '<details><summary>Journal and nginx error log</summary>',
      fence(r.diagnostics),
      '</details>'
    )
  if (r.plan) lines.push('', '**Plan (dry run)**', '', ...r.plan.map((t, i) => `${i + 1}. ${t}`))
  if (r.plan && r.dependencies)
    lines.push(
      `<details><summary>The venv's packages (${escape(r.dependencies.summary)})</summary>`,
      fence(venvLines(r.dependencies).join('\n')),
      '</details>'
    )
  if (r.diff)
    lines.push(
      '<details open><summary>Diff against the server</summary>',
      fence(r.diff, 'diff'),
      '</details>'
    )
  if (r.files) {
    lines.push(`<details><summary>Rendered files (${r.host})</summary>`)
    for (const file of [...allFiles(r.files), ...(r.processFiles ?? [])])
      lines.push('', `\`${file.path}\``, fence(file.text))
    lines.push('</details>')
  }
  return lines
}

/**
 * The runner masks registered secrets in the log only; the summary and the outputs are files,
 * so remote output quoted there (a journal that printed a setting) is redacted here.
 */
export function redactor(s: Settings): (text: string) => string {
  const secrets = secretValues(s).sort((a, b) => b.length - a.length)
  return (text) => secrets.reduce((out, secret) => out.split(secret).join('***'), text)
}

/**
 * The host reports with every text in them redacted: before Markdown escapes a character of a
 * secret (`_`, `#`, `*`), after which the finished summary no longer holds it to be found.
 */
export function redactedReports(
  reports: HostReport[],
  redact: (text: string) => string
): HostReport[] {
  const deep = (value: unknown): unknown =>
    typeof value === 'string'
      ? redact(value)
      : Array.isArray(value)
        ? value.map(deep)
        : value && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).map(([key, v]) => [key, deep(v)]))
          : value
  return reports.map((r) => deep(r) as HostReport)
}

/** Settings that could not be read: the status output, and the step failed with the reason. */
export function writeInputError(message: string): void {
  core.setOutput(Output.Status, 'failure')
  core.setFailed(message)
}

/** The GitHub deployment's id, as soon as it is made ('' when there is none). */
export function writeDeploymentId(id: number | string | undefined): void {
  core.setOutput(Output.DeploymentId, id ?? '')
}

/** Writes the outputs and the job summary, and fails the step when a host did not succeed. */
export async function writeReport(s: Settings, reports: HostReport[]): Promise<void> {
  const status = overallStatus(reports)
  const first = reports[0]
  const redact = redactor(s)
  core.setOutput(Output.Status, status)
  core.setOutput(Output.Release, first?.release ?? '')
  core.setOutput(Output.PreviousRelease, first?.previousRelease ?? '')
  core.setOutput(Output.Url, s.environmentUrl)
  core.setOutput(Output.Preview, s.preview?.name ?? '')
  core.setOutput(Output.HttpStatus, first?.httpStatus !== undefined ? String(first.httpStatus) : '')
  core.setOutput(
    Output.HealthDurationMs,
    first?.healthDurationMs !== undefined ? String(first.healthDurationMs) : ''
  )
  core.setOutput(Output.Hosts, redact(hostsOutput(reports)))
  const database = first?.database
  core.setOutput(Output.Migrations, (database?.applied ?? []).join('\n'))
  core.setOutput(
    Output.DatabaseBackup,
    database?.backup?.path ?? database?.restored ?? database?.aheadBackup ?? ''
  )
  core.setOutput(
    Output.SchemaAhead,
    String(reports.some((r) => r.database?.ahead?.length && !r.database.restored))
  )
  core.setOutput(Output.Interface, isAsgi(s) ? 'asgi' : 'wsgi')
  core.setOutput(Output.WorkerClass, workerClass(s))
  core.setOutput(Output.Maintenance, maintenanceOutput(reports))
  if (process.env.GITHUB_STEP_SUMMARY)
    await core.summary.addRaw(redact(summaryMarkdown(s, redactedReports(reports, redact)))).write()
  for (const r of reports) {
    if (r.status === 'failure' || r.status === 'rolled-back') {
      core.error(r.message.split('\n').slice(0, 20).join('\n'), {
        title: `Deploy to ${r.host} ${r.status === 'rolled-back' ? 'rolled back' : 'failed'}`
      })
    }
  }
  if (status !== 'success')
    core.setFailed(
      `Deploy ${status}: ${reports
        .filter((r) => r.status !== 'success')
        .map((r) => `${r.host} ${r.status}`)
        .join(', ')}`
    )
  else
    core.info(
      `Deployed ${first?.release} to ${reports.map((r) => r.host).join(', ')}: ${s.environmentUrl}`
    )
}

// An operation's report (manage, logs...): the outputs, its own job summary (what ran, on which
// hosts, the exit code and the last lines it printed; logs: each log folded), and the step failed
// when a host did not succeed.

import * as core from '@actions/core'
import { Output } from '../constants.js'
import type { Settings } from '../settings.js'
import {
  escape,
  fence,
  hostsOutput,
  ICON,
  maintenanceOutput,
  overallStatus,
  prose,
  redactedReports,
  redactor,
  type HostReport
} from './report.js'
import { removalMarkdown } from './remove.js'

/** The exit code output: the first host's that failed, else 0; '' when the command never ran. */
export function exitCodeOutput(reports: HostReport[]): string {
  const codes = reports.flatMap((r) =>
    r.operation?.exitCode === undefined ? [] : [r.operation.exitCode]
  )
  if (codes.length === 0) return ''
  return String(codes.find((code) => code !== 0) ?? 0)
}

/** The job summary of an operation: the command, each host's result, what it printed last. */
export function operationMarkdown(s: Settings, reports: HostReport[]): string {
  const status = overallStatus(reports)
  const command = reports.find((r) => r.operation)?.operation?.command ?? s.operation.kind
  const dry = reports.some((r) => r.operation?.dryRun) ? ' (dry run)' : ''
  const lines = [
    `## ${ICON[status]} ${escape(command)} on ${s.instanceName}: ${status}${dry}`,
    '',
    '| host | release | exit code | time | result |',
    '|---|---|---:|---:|---|'
  ]
  for (const r of reports) {
    const code = r.operation?.exitCode
    lines.push(
      `| ${escape(r.host)} | ${r.release ? `\`${r.release}\`` : '–'} | ${code ?? '–'} | ${(r.durationMs / 1000).toFixed(1)} s | ${ICON[r.status]} ${r.status} |`
    )
  }
  for (const r of reports) {
    // Each line its own, the cause first, in bold.
    const said = prose(r.message)
    const removal = r.operation?.removal
    if (said.length > 0 || removal) lines.push('', `### ${escape(r.host)}`, '', ...said)
    if (removal)
      lines.push('', ...removalMarkdown(escape(r.host), removal, r.operation?.dryRun === true))
    if (r.operation?.lastLines)
      lines.push(
        `<details${r.status === 'success' ? '' : ' open'}><summary>The last lines it printed on ${escape(r.host)}</summary>`,
        fence(r.operation.lastLines),
        '</details>'
      )
  }
  const logs = reports.flatMap((r) => (r.operation?.logs ?? []).map((log) => ({ r, log })))
  // A job summary holds 1 MiB: the logs share most of it, each keeping its last lines.
  const budget = Math.floor(SUMMARY_LOGS_CHARS / Math.max(1, logs.length))
  for (const { r, log } of logs) lines.push(...logSection(r.host, log, budget))
  return lines.join('\n') + '\n'
}

/** What of a summary the logs may fill, in characters, all hosts' and parts' together. */
export const SUMMARY_LOGS_CHARS = 800_000

/** One log, folded: its title and host, its last lines within `budget` characters, fenced. */
export function logSection(
  host: string,
  log: { title: string; text: string },
  budget: number
): string[] {
  const all = log.text === '' ? [] : log.text.split('\n')
  let kept = all.length
  for (let size = 0; kept > 0 && size + all[kept - 1].length + 1 <= budget; kept--)
    size += all[kept - 1].length + 1
  const shown = all.slice(kept)
  const cut = kept > 0 ? [`*The ${kept} lines before these are in the run's log only.*`] : []
  const count = `${all.length} line${all.length === 1 ? '' : 's'}`
  return [
    '',
    `<details><summary>${escape(host)}: ${escape(log.title)} (${count})</summary>`,
    ...cut,
    shown.length > 0 ? fence(shown.join('\n')) : '\n\n*No lines.*\n',
    '</details>'
  ]
}

/** Writes an operation's outputs and summary, and fails the step when a host did not succeed. */
export async function writeOperationReport(s: Settings, reports: HostReport[]): Promise<void> {
  const status = overallStatus(reports)
  const redact = redactor(s)
  core.setOutput(Output.Status, status)
  core.setOutput(Output.ExitCode, exitCodeOutput(reports))
  core.setOutput(Output.Release, reports[0]?.release ?? '')
  core.setOutput(Output.Hosts, redact(hostsOutput(reports)))
  core.setOutput(Output.Maintenance, maintenanceOutput(reports))
  core.setOutput(Output.Preview, s.preview?.name ?? '')
  if (process.env.GITHUB_STEP_SUMMARY)
    await core.summary
      .addRaw(redact(operationMarkdown(s, redactedReports(reports, redact))))
      .write()
  const failed = reports.filter((r) => r.status !== 'success')
  // The cause first: the command's last error line leads the step's failure.
  if (failed.length > 0)
    core.setFailed(
      `${failed[0].message}\n(${failed.map((r) => `${r.host} ${r.status}`).join(', ')})`
    )
  else for (const r of reports) if (r.message) core.info(`${r.host}: ${r.message}`)
}

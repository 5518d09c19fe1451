// The logs operation as data: one read-only root step that prints, part by part, the journal of
// the live web instance, of each process and schedule unit found on the host, the site's lines
// of nginx's error log and the audit log; and the parser that splits its output into the parts.
// Each part is sent base64-encoded on a line of its own behind the run's nonce: no server text
// reaches stdout as it is, so none can pass for the start or the end of a part.

import { Buffer } from 'node:buffer'
import { upstreamName } from '../render/nginx.js'
import type { OperationOf, Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import type { HostFacts } from './facts.js'
import { INSTANCES, layout, NGINX_ERROR_LOG, socketPath, unitNames } from './layout.js'
import type { Step } from './step.js'

type LogsOperation = OperationOf<'logs'>

/** One part of what the logs step shows: its id in the step's output, its title for a person. */
export interface LogPart {
  id: string
  title: string
}

/** A part with what the host sent for it ('' when it sent nothing). */
export interface LogText extends LogPart {
  text: string
}

/** The step and the parts it prints, in order. */
export interface LogsPlan {
  step: Step
  parts: LogPart[]
}

/** What the logs step names of the host: the live instance and the process units it found. */
export type LogsFacts = Pick<HostFacts, 'instance' | 'processUnits'>

/** The web's units whose journal is shown, and how the title says which they are. */
export function webUnits(
  instanceName: string,
  instance: HostFacts['instance']
): { units: string[]; title: string } {
  const names = unitNames(instanceName)
  if (instance === 'legacy')
    return {
      units: [names.legacy.service],
      title: `journal of ${names.legacy.service} (the live web instance, deployed by an earlier version)`
    }
  if (instance !== '') {
    const unit = names.instance(instance).service
    return { units: [unit], title: `journal of ${unit} (the live web instance)` }
  }
  // Nothing serves: a first deploy that failed left its lines in either instance's journal.
  const both = INSTANCES.map((i) => names.instance(i).service)
  return { units: both, title: `journal of ${both.join(' and ')} (no instance is live)` }
}

/** The process and schedule units found on the host, by name: a schedule's timer with its service. */
export function processUnitGroups(units: readonly string[]): string[][] {
  const byName = new Map<string, string[]>()
  for (const unit of [...units].sort()) {
    const name = unit.replace(/\.(service|timer)$/, '')
    byName.set(name, [...(byName.get(name) ?? []), unit])
  }
  return [...byName.values()]
}

/**
 * The primary names of the site's server blocks, from the site on the host, as nginx names them in
 * its error log (`server: example.com,`): one pattern a line for `grep -F -f -`.
 */
const SERVER_NAME_PATTERNS =
  's/^[[:space:]]*server_name[[:space:]]\\{1,\\}"\\{0,1\\}\\([^[:space:]";]\\{1,\\}\\).*$/server: \\1,/p'

/** The catch-all's name: every catch-all site of the host has it, so it names none of them. */
const CATCH_ALL = 'server: _,'

/** One part of the output: the nonce, the part's id, its text in base64, on one line. */
function part(nonce: string, id: string, body: ShellText): ShellText {
  return sh`printf '%s %s ' ${nonce} ${id}; { ${body}; } 2>&1 | base64 -w 0; echo`
}

function journal(op: LogsOperation, units: string[]): ShellText {
  const since = op.since ? [`--since=${op.since.journal}`] : []
  const each = units.flatMap((u) => ['-u', u])
  return sh`journalctl -n ${op.lines} ${since} ${each} --no-pager -o short-iso`
}

/**
 * The site's lines of nginx's error log: its socket, its upstream, the files below its deploy path,
 * its server names; the last N.
 */
function nginxErrors(s: Settings, op: LogsOperation): ShellText {
  // A file nginx could not open below the deploy path (static, media) is the site's too.
  const fixed = [
    `unix:${socketPath(s.instanceName)}`,
    `http://${upstreamName(s.instanceName)}/`,
    `"${layout(s).root}/`
  ]
  const { site } = layout(s)
  return sh`if [ -f ${NGINX_ERROR_LOG} ]; then { printf '%s\n' ${fixed}; sed -n ${SERVER_NAME_PATTERNS} ${site} 2>/dev/null | grep -v -x -F ${CATCH_ALL}; } | grep -a -F -f - ${NGINX_ERROR_LOG} | tail -n ${op.lines}; else echo ${`(no nginx error log at ${NGINX_ERROR_LOG})`}; fi`
}

function auditLog(s: Settings, op: LogsOperation): ShellText {
  const { auditLog: log } = layout(s)
  return sh`if [ -f ${log} ]; then tail -n ${op.lines} ${log}; else echo ${`(no audit log at ${log}: no run has ended on this host)`}; fi`
}

/**
 * The logs step: read-only, as root (the journal and nginx's log are root's to read), one round
 * trip. `nonce` is the run's own (random): it begins each part's line.
 */
export function logsPlan(
  s: Settings,
  op: LogsOperation,
  facts: LogsFacts,
  nonce: string
): LogsPlan {
  if (!/^[A-Za-z0-9-]{16,}$/.test(nonce))
    throw new Error('the nonce must be random letters and digits')
  const web = webUnits(s.instanceName, facts.instance)
  const pieces: Array<LogPart & { body: ShellText }> = [
    { id: 'web', title: web.title, body: journal(op, web.units) },
    ...processUnitGroups(facts.processUnits ?? []).map((units, i) => ({
      id: `unit-${i + 1}`,
      title: `journal of ${units.join(' and ')}`,
      body: journal(op, units)
    })),
    {
      id: 'nginx',
      title: `nginx's error log: the lines of ${s.instanceName}'s site`,
      body: nginxErrors(s, op)
    },
    { id: 'audit', title: `audit log (${layout(s).auditLog})`, body: auditLog(s, op) }
  ]
  const since = op.since ? ` since ${op.since.given}` : ''
  return {
    step: {
      id: 'logs',
      phase: 'connect',
      title: `Read the last ${op.lines} lines of each log${since}`,
      privileged: true,
      command: script(raw('set -u'), ...pieces.map((p) => part(nonce, p.id, p.body)))
    },
    parts: pieces.map(({ id, title }) => ({ id, title }))
  }
}

/**
 * The logs step's output split into its parts, in order: a part is the first line that begins
 * with the nonce and its id, decoded; a line without the nonce is not the step's.
 */
export function parseLogs(stdout: string, nonce: string, parts: readonly LogPart[]): LogText[] {
  const sent = new Map<string, string>()
  for (const line of stdout.split('\n')) {
    const [word, id, encoded = '', ...rest] = line.split(' ')
    if (word !== nonce || rest.length > 0 || sent.has(id)) continue
    if (!/^[A-Za-z0-9+/]*=*$/.test(encoded)) continue
    sent.set(id, Buffer.from(encoded, 'base64').toString('utf8').replace(/\n$/, ''))
  }
  return parts.map((p) => ({ ...p, text: sent.get(p.id) ?? '' }))
}

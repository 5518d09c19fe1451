// The audit log: one line per run and host in <deploy-path>/.deploy/audit.log (root's folder,
// which neither the repository nor the app user shapes), saying when, which run, who, what and
// how it ended. The runner says it on the deploy lock's stdin as the run lets the lock go; the
// lock command appends it (server/lock.ts), so a deploy sends no step more for it, and a run cut
// short still leaves a line ("interrupted").

import { script, sh, raw, type ShellText } from '../shell.js'
import type { Settings } from '../settings.js'
import { layout } from './layout.js'

/** What a run is, for its audit line. */
export interface AuditEntry {
  /** GITHUB_RUN_ID, or '' for a run outside GitHub */
  run: string
  repository: string
  actor: string
  /** deploy, configs, rollback, manage... (dry runs say so) */
  mode: string
  /** what the mode was given: the commit deployed, the manage command line */
  argument: string
}

/** The line holds at most this many bytes: the lock command reads no more. */
export const AUDIT_LINE_MAX = 8192

/**
 * `key="value"` pairs, each value a JSON string: quoted, a line break or a quote in it escaped,
 * so the line is one line whatever a value holds, and any tool reads it back.
 */
function fields(values: Array<[string, string]>): string {
  return values.map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(' ')
}

function entryFields(entry: AuditEntry): Array<[string, string]> {
  return [
    ['run', entry.run],
    ['repository', entry.repository],
    ['actor', entry.actor],
    ['mode', entry.mode],
    ['argument', entry.argument]
  ]
}

/** The audit line of a run that ended: its time, what it was, how it ended. */
export function auditLine(time: Date, entry: AuditEntry, result: string): string {
  const line = fields([['time', time.toISOString()], ...entryFields(entry), ['result', result]])
  // Far longer than any real line: cut on a character, still one line.
  return line.length > AUDIT_LINE_MAX / 4 ? `${line.slice(0, AUDIT_LINE_MAX / 4)}...` : line
}

/**
 * Appends the line the runner sent on stdin (read until stdin ends, which is when the run lets
 * the lock go), or, when the connection ended without one, a line that says the run was cut
 * short, with the host's time. Root's file, 0640, in root's 0700 folder; never fails the lock.
 */
export function auditAppend(s: Settings, entry: AuditEntry): ShellText {
  return script(lineFromStdin(entry), appendLine(s, true))
}

/**
 * A remove's audit line: to the system journal (`logger -t django-deploy-<project>`), since the
 * audit log goes with `.deploy/`; appended to the audit log too while `.deploy/` is there (a dry
 * run, a remove that failed), which is never made again for it.
 */
export function auditRemoval(s: Settings, entry: AuditEntry): ShellText {
  return script(
    lineFromStdin(entry),
    sh`logger -t ${journalTag(s)} -- "$line" 2>/dev/null || true`,
    appendLine(s, false)
  )
}

/** The tag of a remove's audit line in the system journal (journalctl -t <tag>). */
export function journalTag(s: Pick<Settings, 'instanceName'>): string {
  return `django-deploy-${s.instanceName}`
}

/** `$line`: what the runner sent on stdin (read until it ends), or that the run was cut short. */
function lineFromStdin(entry: AuditEntry): ShellText {
  const interrupted = fields([...entryFields(entry), ['result', 'interrupted']])
  return script(
    sh`line=$(head -c ${AUDIT_LINE_MAX} | head -n 1)`,
    raw('cat > /dev/null'),
    sh`[ -n "$line" ] || line=$(printf 'time="%s" %s' "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" ${interrupted})`
  )
}

/** `$line` appended; `make`: `.deploy/` made when missing (a deploy's first run), never by a remove. */
function appendLine(s: Settings, make: boolean): ShellText {
  const { state, auditLog: log } = layout(s)
  return script(
    make
      ? sh`if [ ! -L ${state} ] && { [ -d ${state} ] || mkdir -m 700 ${state}; } && [ ! -L ${log} ]; then`
      : sh`if [ ! -L ${state} ] && [ -d ${state} ] && [ ! -L ${log} ]; then`,
    sh`  (umask 027; printf '%s\\n' "$line" >> ${log}; chmod 0640 ${log}) 2>/dev/null || true`,
    raw('fi')
  )
}

// What the flow tells a person besides the steps' own output, built from what it learnt: pure.

import type { Plan } from '../plan.js'
import { StepError } from '../server/cause.js'
import { acmeHint } from '../server/acme.js'
import type { RunResult } from '../remote/connection.js'
import type { HealthResult } from '../server/health.js'
import {
  closesWebSocketsCleanly,
  describeVersions,
  uncleanCloseWarning,
  type ServerFacts
} from '../server/asgi.js'
import type { DjangoFacts } from '../server/discover.js'
import { sharedNotice, sharedPaths } from '../server/shared.js'
import type { Settings } from '../settings.js'

export interface Notice {
  message: string
  title: string
}

/** Data the settings keep inside the release is kept in shared/: what, where and why. */
export function sharedNotices(s: Settings, plan: Plan, found: DjangoFacts): Notice[] {
  if (plan.build.length === 0) return []
  const notices: Notice[] = []
  const notice = sharedNotice(s, sharedPaths(s, plan.target, found))
  if (notice) notices.push({ message: notice, title: 'Kept in shared/' })
  if (s.collectstatic && !found.staticRoot && !s.staticRoot)
    notices.push({
      message:
        "STATIC_ROOT is not set in the project's settings, so collectstatic was skipped and nginx " +
        "serves no static files (the admin's included). Set it, e.g. STATIC_ROOT = BASE_DIR / " +
        "'staticfiles', or set collectstatic: false to say this is meant.",
      title: 'No static files'
    })
  return notices
}

/** The Django process found the settings other than the live release's: planned again. */
export const SETTINGS_CHANGED_NOTE =
  "The project's settings say other things than the live release's did: planned again with what they say now"

/** A step found the disk full: the cause, how full, what was done, what to do. */
export function diskFullMessage(d: {
  step: string
  cause: string
  deployPath: string
  live?: string
  writtenMb: number
  freeMb: number
}): string {
  return (
    `${d.step} failed: the server's disk is full (${d.cause}).\n` +
    `The disk that holds ${d.deployPath} had no room left` +
    (d.writtenMb > 0 ? `: the release needed more than the ${d.writtenMb} MB it had written` : '') +
    `. The partial release was removed; ${d.freeMb} MB are free now.` +
    ` Nothing was switched${d.live ? `: ${d.live} still serves` : ''}.\n` +
    `Free space on it (\`df -h ${d.deployPath}\`, \`du -sh ${d.deployPath}/*\`), or keep fewer ` +
    'releases (keep-releases), then deploy again.'
  )
}

export function rollbackNote(rolledBack: boolean, previous: string): string {
  return rolledBack
    ? ` Rolled back to ${previous}, which answers again.`
    : previous
      ? ' The rollback did not bring the previous release back to health either.'
      : ' There was no previous release to roll back to.'
}

/**
 * An error's message, cause first; `unswitchedLive` (the live release, or '' on a first deploy)
 * when the run held the lock and switched nothing.
 */
export function errorMessage(error: unknown, unswitchedLive?: string): string {
  const done =
    unswitchedLive === undefined
      ? ''
      : `\nNothing was switched${unswitchedLive ? `: ${unswitchedLive} still serves` : ''}.`
  if (error instanceof StepError)
    return `${error.step.title} failed: ${error.cause}${done}${error.hint ? `\n${error.hint}` : ''}`
  return `${(error as Error).message}${done}`
}

/** The ACME server refused: its words, what serves now, what to do. */
export function acmeRefusedMessage(a: {
  names: string
  said: string
  switched: boolean
  hadCertificate: boolean
  previous: string
  target: string
}): string {
  const where = !a.switched
    ? `Nothing was switched${a.previous ? `: ${a.previous} still serves` : ''}, with the certificate it had.`
    : a.hadCertificate
      ? `${a.target} is live, with the certificate the site had.`
      : `${a.target} is live over plain HTTP; the site switches to HTTPS once a certificate is issued.`
  return `The ACME server did not issue the certificate for ${a.names}:\n${a.said}\n${where}\n${acmeHint(a.said)}`
}

/** Which uvicorn serves, and a warning when it would cut open WebSockets at a restart. */
export function serverNotices(facts?: ServerFacts): { info?: string; warning?: Notice } {
  if (!facts) return {}
  return {
    info: `Serves with ${describeVersions(facts)}`,
    warning:
      closesWebSocketsCleanly(facts) === false
        ? { message: uncleanCloseWarning(facts), title: 'WebSockets cut at a restart' }
        : undefined
  }
}

/** Says which uvicorn serves, and warns when it would cut open WebSockets at a restart. */
export function tellServer(
  log: { info(message: string): void; warn(message: string, title?: string): void },
  facts?: ServerFacts
): void {
  const said = serverNotices(facts)
  if (said.info) log.info(said.info)
  if (said.warning) log.warn(said.warning.message, said.warning.title)
}

/** The last lines a step printed, for a warning. */
export function lastLines(result: RunResult): string {
  return (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n')
}

/** tls: auto: the first HTTPS site did not answer; the plain one is back. */
export function httpsFailedMessage(health: HealthResult): string {
  return (
    `The site did not answer over HTTPS: the health check got ${health.status || 'no answer'}` +
    `${health.detail ? ` (${health.detail})` : ''}. The plain HTTP site is back in place; ` +
    'the certificate is on the host for the next deploy.'
  )
}

// provision and apt-packages on one host: what the host check found missing is installed before
// anything else runs (a dry run lists it); a host that lacked what the check itself needs
// (provision-first) is checked again once it has it.

import type { HostFacts } from '../server/facts.js'
import { parseFacts } from '../server/inspect.js'
import { aptProblem, checksPackages, installStep } from '../server/provision.js'
import type { Step } from '../server/step.js'
import type { HostDeps } from './deps.js'
import type { RunRecord } from './record.js'
import { Stop } from './stop.js'

export const NOTHING_TO_INSTALL = 'Debian packages: nothing to install, the host has them all'

/** The dry run's line: what the deploy would install first. */
export function wouldInstallMessage(packages: readonly string[], checkedAfter: boolean): string {
  return (
    `Debian packages to install first: ${packages.join(' ')}` +
    (checkedAfter ? ' (the rest of the host check needs them: not read in a dry run)' : '')
  )
}

/** A failed install: apt's own words first, then what was being installed and what was not done. */
export function installFailedMessage(packages: readonly string[], said: string): string {
  return (
    `${said}\n` +
    `apt-get could not install the Debian packages ${packages.join(' ')} (provision, apt-packages). ` +
    'Nothing was uploaded and nothing that serves was changed.'
  )
}

/**
 * Installs what the host lacks (none: one line says so). Returns the host's facts: the same, or
 * read again when the host check stopped for them. A dry run records what it would install.
 */
export async function provisionHost(
  deps: HostDeps,
  record: RunRecord,
  check: Step,
  facts: HostFacts
): Promise<HostFacts> {
  const s = deps.settings
  if (!checksPackages(s)) return facts
  const missing = facts.packagesMissing ?? []
  if (missing.length === 0) {
    deps.info(NOTHING_TO_INSTALL)
    return facts
  }
  if (s.dryRun) {
    record.packages = { wouldInstall: missing }
    deps.info(wouldInstallMessage(missing, !!facts.provisionFirst))
    return facts
  }
  const step = installStep(s, missing)
  const result = await deps.run(step, { allowFailure: true })
  if (result.code !== 0) {
    record.failedStep = { title: step.title, output: result.stdout + result.stderr }
    throw new Stop(installFailedMessage(missing, aptProblem(result.stdout + result.stderr)))
  }
  record.packages = { installed: missing }
  if (!facts.provisionFirst) return facts
  const again = parseFacts((await deps.run(check)).stdout)
  record.facts = again
  return again
}

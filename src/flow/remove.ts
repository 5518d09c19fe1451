// remove: the project taken off one host (server/remove.ts): what it has there read first, then
// its site (behind nginx's gate), its units, its files but the data (unless force), with force
// its certificate and app user. A dry run lists it all, file by file, and changes nothing.

import type { HostOutcome, OperationReport } from '../report/report.js'
import { layout } from '../server/layout.js'
import {
  KEPT_DATA,
  nothingToRemove,
  parseRemoved,
  parseRemoveListing,
  removeListStep,
  removeSteps,
  type RemovalReport,
  type RemoveListing
} from '../server/remove.js'
import { GATE_FAILED } from '../server/step-script.js'
import type { OperationOf, Settings } from '../settings.js'
import {
  nothingToRemoveMessage,
  removeDryRunMessage,
  removeFailedMessage,
  removeGateMessage
} from './notices.js'
import { operationOutcome, type OperationDeps } from './operation-outcome.js'

type Remove = OperationOf<'remove'>

/** Removes the project from the host; a step that fails stops the rest and fails the host. */
export async function remove(
  deps: OperationDeps,
  op: Remove,
  report: OperationReport
): Promise<HostOutcome> {
  const s = deps.settings
  const listing = parseRemoveListing(s, (await deps.run(removeListStep(s, op))).stdout)
  if (nothingToRemove(listing))
    return operationOutcome(
      'success',
      '',
      nothingToRemoveMessage(s.instanceName, deps.host),
      report
    )
  const removal = plannedRemoval(s, op, listing)
  if (s.dryRun) {
    const root = layout(s).root
    for (const unit of listing.units) deps.info(`would remove: unit ${unit}`)
    for (const path of listing.files) deps.info(`would remove: ${path}`)
    for (const path of listing.paths) deps.info(`would remove: ${root}/${path}`)
    const count = listing.units.length + listing.files.length + listing.paths.length
    return operationOutcome('success', '', removeDryRunMessage(deps.host, count), {
      ...report,
      dryRun: true,
      removal: { ...removal, entries: countedEntries(removal, listing.paths), paths: listing.paths }
    })
  }
  report.removal = removal
  for (const step of removeSteps(s, op, listing)) {
    const result = await deps.run(step, { allowFailure: true })
    if (result.code !== 0) {
      const message =
        step.id === 'remove-site' && result.code === GATE_FAILED
          ? removeGateMessage(deps.host, result.stderr)
          : removeFailedMessage(deps.host, step.title, result.stderr || result.stdout)
      if (step.id === 'remove-site') report.removal = { ...removal, units: [], files: [] }
      return operationOutcome('failure', '', message, report)
    }
    if (step.id === 'remove-files') removal.entries = parseRemoved(result.stdout)
    if (step.id === 'remove-user') removal.user = userOutcome(s.appUser, result.stdout)
  }
  return operationOutcome('success', '', '', report)
}

/** What the listing says will go and stay, before anything is removed. */
function plannedRemoval(s: Settings, op: Remove, listing: RemoveListing): RemovalReport {
  const kept = op.force ? [] : KEPT_DATA.filter((name) => listing.entries.includes(name))
  return {
    units: listing.units,
    files: listing.files,
    entries: listing.entries
      .filter((name) => !(kept as string[]).includes(name))
      .map((name) => ({ name, count: 0 })),
    certificate: op.force && listing.certificate,
    kept: kept.map((name) => `${layout(s).root}/${name}/`),
    user: !listing.user
      ? 'none on the host'
      : op.force
        ? `${s.appUser}: removed`
        : `${s.appUser}: kept (it owns the data; force: true removes it)`
  }
}

/** What the user step said: removed, or kept because other units run as it. */
function userOutcome(user: string, stdout: string): string {
  const kept = /^user-kept (.*)$/m.exec(stdout)
  if (kept) return `${user}: kept, since other units run as it (${kept[1].trim()})`
  return /^user-removed$/m.test(stdout) ? `${user}: removed` : 'none on the host'
}

/** A dry run's count of the paths each entry would take with it (itself included). */
function countedEntries(removal: RemovalReport, paths: string[]): RemovalReport['entries'] {
  return removal.entries.map(({ name }) => ({
    name,
    count: paths.filter((path) => path === name || path.startsWith(`${name}/`)).length
  }))
}

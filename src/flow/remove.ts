// remove: the project taken off one host (server/remove.ts): what it has there read first, then
// its site (behind nginx's gate), its units, its files but the data (unless force), with force
// its certificate and app user. A dry run lists it all, file by file, and changes nothing.

import type { HostOutcome, OperationReport } from '../report/report.js'
import { baseName, layout } from '../server/layout.js'
import {
  nothingToRemove,
  parseRemoved,
  parseRemoveListing,
  parseWouldRemove,
  removedEntries,
  removeFilesStep,
  removeListStep,
  removeSteps,
  type RemovalReport,
  type RemoveListing
} from '../server/remove.js'
import { GATE_FAILED } from '../server/step-script.js'
import type { OperationOf, Settings } from '../settings.js'
import {
  nothingToRemoveMessage,
  previewRoleKeptWarning,
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
  const listing = parseRemoveListing(s, (await deps.run(removeListStep(s))).stdout)
  if (nothingToRemove(listing))
    return operationOutcome(
      'success',
      '',
      nothingToRemoveMessage(s.instanceName, deps.host),
      report
    )
  if (s.dryRun) return dryRemove(deps, op, listing, report)
  const removal = plannedRemoval(s, op, listing)
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
    if (step.id === 'remove-preview-database' && /^role-kept /m.test(result.stdout))
      deps.warn(previewRoleKeptWarning(s, result.stdout))
  }
  return operationOutcome('success', '', '', report)
}

/**
 * A dry run: the deploy path walked by the boundary (following no link), everything that would
 * go printed as the server's text (a file's name is the repository's or the app's to choose).
 */
async function dryRemove(
  deps: OperationDeps,
  op: Remove,
  listing: RemoveListing,
  report: OperationReport
): Promise<HostOutcome> {
  const s = deps.settings
  const root = layout(s).root
  const walk = removeFilesStep(s, removedEntries(op, listing), true)
  const paths = listing.entries.length > 0 ? parseWouldRemove((await deps.run(walk)).stdout) : []
  deps.remote(
    [
      ...listing.units.map((unit) => `would remove: unit ${unit}`),
      ...listing.files.map((path) => `would remove: ${path}`),
      ...(s.preview?.database
        ? [`would remove: database ${s.preview.database.name} and its role`]
        : []),
      ...paths.map((path) => `would remove: ${root}/${path}`)
    ].join('\n')
  )
  const removal = plannedRemoval(s, op, listing)
  const count = listing.units.length + listing.files.length + paths.length
  return operationOutcome('success', '', removeDryRunMessage(deps.host, count), {
    ...report,
    dryRun: true,
    removal: { ...removal, entries: countedEntries(removal, paths), paths }
  })
}

/** What the listing says will go and stay, before anything is removed. */
function plannedRemoval(s: Settings, op: Remove, listing: RemoveListing): RemovalReport {
  const state = baseName(layout(s).state)
  const removed = [
    ...removedEntries(op, listing),
    ...(listing.entries.includes(state) ? [state] : [])
  ]
  const kept = listing.entries.filter((name) => !removed.includes(name))
  return {
    units: listing.units,
    files: listing.files,
    entries: removed.map((name) => ({ name, count: 0 })),
    certificate: op.force && listing.certificate,
    ...(s.preview?.database ? { database: s.preview.database.name } : {}),
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

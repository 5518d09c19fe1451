// Previews' limits in a preview deploy, under its lock, after the host check: the project's
// previews that preview-ttl and preview-limit name are removed first (each with its own remove's
// steps, under its own deploy lock; skipped while a run holds it), saying so; then this preview is recorded as
// deployed now. A removal that fails is a warning: this deploy goes on.

import { parseRemoveListing, removeListStep, removeSteps } from '../server/remove.js'
import type { HostFacts } from '../server/facts.js'
import { markPreviewStep, previewsToRemove, siblingPreview } from '../server/previews.js'
import type { HeldLock } from '../remote/lock.js'
import type { HostDeps } from './deps.js'
import {
  previewNotRemovedWarning,
  previewRemovedNotice,
  previewTakenMessage,
  productionSharedOpenMessage
} from './notices.js'

/** Returns the facts as given (a dry run, or not a preview: nothing done). */
export async function applyPreviewLimits(deps: HostDeps, facts: HostFacts): Promise<HostFacts> {
  const s = deps.settings
  if (s.preview && facts.productionSharedOpen) throw new Error(productionSharedOpenMessage(s))
  if (s.preview && facts.previewTaken) throw new Error(previewTakenMessage(s, facts.previewTaken))
  if (!s.preview || s.dryRun) return facts
  const now = facts.now ?? Date.now()
  for (const removal of previewsToRemove(s.preview, facts.previews ?? [], now)) {
    const sibling = siblingPreview(s, removal.name)
    const why = await removeSibling(deps, sibling, removal.reason)
    if (why) deps.warn(previewNotRemovedWarning(sibling.instanceName, why))
    else deps.previewRemoved?.(removal.name)
  }
  await deps.run(markPreviewStep(s))
  return facts
}

/**
 * '' when removed, else why not. The preview's own deploy lock is held while it is removed, so
 * that no deploy of it starts half-way; one a run holds is left alone.
 */
async function removeSibling(deps: HostDeps, sibling: HostDeps['settings'], reason: string) {
  let lock: HeldLock
  try {
    lock = await deps.lockOther(sibling)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return /is held by/.test(message) ? 'a run holds its deploy lock' : message
  }
  deps.info(previewRemovedNotice(sibling.instanceName, reason))
  let why = ''
  try {
    const op = { kind: 'remove', force: true } as const
    const listing = parseRemoveListing(sibling, (await deps.run(removeListStep(sibling))).stdout)
    for (const step of removeSteps(sibling, op, listing)) {
      const result = await deps.run(step, { allowFailure: true })
      if (result.code !== 0) {
        why = `${step.title}: ${(result.stderr || result.stdout).trim()}`
        break
      }
    }
  } finally {
    // As it lets go, the lock takes its files and the emptied deploy path with it (a remove's).
    await lock.release(why ? 'failure' : 'success')
  }
  return why
}

// Previews' limits in a preview deploy, under its lock, after the host check: the project's
// previews that preview-ttl and preview-limit name are removed first (each with its own remove's
// steps, skipped while a run holds its lock), saying so; then this preview is recorded as
// deployed now. A removal that fails is a warning: this deploy goes on.

import { parseRemoveListing, removeListStep, removeSteps } from '../server/remove.js'
import type { HostFacts } from '../server/facts.js'
import {
  markPreviewStep,
  previewsToRemove,
  siblingCleanupStep,
  siblingLockFreeStep,
  siblingPreview
} from '../server/previews.js'
import type { HostDeps } from './deps.js'
import {
  previewNotRemovedWarning,
  previewRemovedNotice,
  productionSharedOpenMessage
} from './notices.js'

/** Returns the facts as given (a dry run, or not a preview: nothing done). */
export async function applyPreviewLimits(deps: HostDeps, facts: HostFacts): Promise<HostFacts> {
  const s = deps.settings
  if (s.preview && facts.productionSharedOpen) throw new Error(productionSharedOpenMessage(s))
  if (!s.preview || s.dryRun) return facts
  const now = facts.now ?? Date.now()
  for (const removal of previewsToRemove(s.preview, facts.previews ?? [], now)) {
    const sibling = siblingPreview(s, removal.name)
    const why = await removeSibling(deps, sibling, removal.reason)
    if (why) deps.warn(previewNotRemovedWarning(sibling.instanceName, why))
  }
  await deps.run(markPreviewStep(s))
  return facts
}

/** '' when removed, else why not. */
async function removeSibling(deps: HostDeps, sibling: HostDeps['settings'], reason: string) {
  const free = await deps.run(siblingLockFreeStep(sibling), { allowFailure: true })
  if (free.code !== 0) return 'a run holds its deploy lock'
  deps.info(previewRemovedNotice(sibling.instanceName, reason))
  const op = { kind: 'remove', force: true } as const
  const listing = parseRemoveListing(sibling, (await deps.run(removeListStep(sibling))).stdout)
  for (const step of removeSteps(sibling, op, listing)) {
    const result = await deps.run(step, { allowFailure: true })
    if (result.code !== 0) return `${step.title}: ${(result.stderr || result.stdout).trim()}`
  }
  await deps.run(siblingCleanupStep(sibling), { allowFailure: true })
  return ''
}

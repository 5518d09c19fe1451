// Previews' limits: which of a project's previews on a host a preview deploy removes, by
// preview-ttl (not deployed for that many days) and preview-limit (the least recently deployed
// first, so that with the one deployed now there are at most that many). Pure: the host's list
// of previews and when each was last deployed come in, the names to remove and why go out.

import type { PreviewSettings } from '../settings.js'

export interface DeployedPreview {
  name: string
  /** when it was last deployed (ms since the epoch) */
  deployedAt: number
}

export interface PreviewRemoval {
  name: string
  /** why, as the log says it */
  reason: string
}

const DAY_MS = 24 * 60 * 60 * 1000

/** The previews to remove before `current` is deployed, oldest first; `current` never. */
export function previewsToRemove(
  preview: Pick<PreviewSettings, 'name' | 'limit' | 'ttlDays'>,
  onHost: readonly DeployedPreview[],
  now: number
): PreviewRemoval[] {
  const others = onHost
    .filter((p) => p.name !== preview.name)
    .sort((a, b) => a.deployedAt - b.deployedAt || a.name.localeCompare(b.name))
  const removals: PreviewRemoval[] = []
  const ttl = preview.ttlDays
  const kept =
    ttl === undefined
      ? others
      : others.filter((p) => {
          const days = Math.floor((now - p.deployedAt) / DAY_MS)
          if (days < ttl) return true
          removals.push({
            name: p.name,
            reason: `not deployed for ${days} days (preview-ttl: ${ttl})`
          })
          return false
        })
  if (preview.limit !== undefined) {
    // The preview deployed now counts: at most limit - 1 others stay.
    const excess = kept.length - (preview.limit - 1)
    for (const p of kept.slice(0, Math.max(0, excess)))
      removals.push({
        name: p.name,
        reason: `the least recently deployed of ${kept.length + 1} previews (preview-limit: ${preview.limit})`
      })
  }
  return removals
}

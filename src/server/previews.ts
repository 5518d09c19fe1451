// Previews' limits: which of a project's previews on a host a preview deploy removes, by
// preview-ttl (not deployed for that many days) and preview-limit (the least recently deployed
// first, so that with the one deployed now there are at most that many). When each was deployed
// is the mtime of its file in the project's registry (layout.ts previewRegistry): root's, outside
// every deploy path, touched by every deploy of the preview, removed with it.

import type { OperationOf, PreviewSettings, Settings } from '../settings.js'
import { raw, script, sh } from '../shell.js'
import { layout, previewRegistry } from './layout.js'
import type { Step } from './step.js'
import { previewDatabaseName, previewDatabasePassword } from './preview-database.js'

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
/** A preview's name: letters, digits and -, at most 30, a letter or digit at each end. */
export const PREVIEW_NAME = /^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?$/

/** Production's value of a preview's (deploy path, app user): the preview's without `-<name>`. */
export function productionValue(s: Pick<Settings, 'preview'>, value: string): string {
  const own = `-${s.preview?.name ?? ''}`
  return s.preview && value.endsWith(own) ? value.slice(0, -own.length) : value
}

/** The preview's file in its project's registry. */
function registryFile(s: Pick<Settings, 'projectName' | 'preview'>): string {
  return `${previewRegistry(s.projectName)}/${s.preview?.name ?? ''}`
}

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

/** The host check's lines of the registry: `previews=<name>:<mtime> ...` and the host's `now=`. */
export function listPreviews(s: Settings): ReturnType<typeof script> {
  const registry = previewRegistry(s.projectName)
  const { root, state } = layout(s)
  return script(
    raw('echo "now=$(date +%s)"'),
    // Production's shared/ as an earlier version left it: passable by every local user.
    sh`echo "production-shared=$(stat -c %a ${`${productionValue(s, s.deployPath)}/shared`} 2>/dev/null)"`,
    sh`echo "previews=$(cd ${registry} 2>/dev/null && for f in *; do [ -f "$f" ] && printf '%s:%s ' "$f" "$(stat -c %Y -- "$f")"; done)"`,
    // A preview not yet in the registry whose user or deploy path is there already: another's.
    sh`if [ ! -e ${registryFile(s)} ]; then`,
    sh`  taken=; if id -u -- ${s.appUser} >/dev/null 2>&1; then taken=user; fi`,
    sh`  if [ -e ${`${root}/releases`} ] || [ -e ${state} ]; then taken="$taken path"; fi`,
    raw('  echo "preview-taken=$taken"'),
    raw('fi')
  )
}

/** What listPreviews printed (names checked: a name is a path in a root step). */
export function parsePreviews(values: ReadonlyMap<string, string>): {
  previews?: DeployedPreview[]
  now?: number
  productionSharedOpen?: boolean
  previewTaken?: string[]
} {
  const previews = (values.get('previews') ?? '').split(/\s+/).flatMap((entry) => {
    const m = /^([a-z0-9-]+):(\d+)$/.exec(entry)
    return m && PREVIEW_NAME.test(m[1]) ? [{ name: m[1], deployedAt: Number(m[2]) * 1000 }] : []
  })
  const now = Number(values.get('now'))
  const shared = values.get('production-shared') ?? ''
  const taken = (values.get('preview-taken') ?? '')
    .split(/\s+/)
    .filter((w) => w === 'user' || w === 'path')
  return {
    ...(taken.length > 0 ? { previewTaken: taken } : {}),
    ...(values.has('previews') ? { previews } : {}),
    // Others may pass through: a preview's code could open production's files there.
    ...(/^[0-7]{3,4}$/.test(shared) && (parseInt(shared, 8) & 0o001) !== 0
      ? { productionSharedOpen: true }
      : {}),
    ...(Number.isFinite(now) && now > 0 ? { now: now * 1000 } : {})
  }
}

/**
 * Another preview of the same project, as its own deploy would have it: its deploy path and app
 * user are production's with `-<name>`, as this one's are with its own name.
 */
export function siblingPreview(s: Settings, name: string): Settings {
  const db = s.preview?.database
  const dbName = previewDatabaseName(s.projectName, name)
  const database = db && {
    ...db,
    name: dbName,
    password: previewDatabasePassword(db.admin.password, dbName)
  }
  return {
    ...s,
    instanceName: `${s.projectName}-${name}`,
    deployPath: `${productionValue(s, s.deployPath)}-${name}`,
    appUser: `${productionValue(s, s.appUser)}-${name}`,
    environment: `${s.environment.slice(0, s.environment.lastIndexOf('/'))}/${name}`,
    preview: { ...(s.preview as PreviewSettings), name, ...(database ? { database } : {}) },
    operation: { kind: 'remove', force: true } satisfies OperationOf<'remove'>,
    dryRun: false
  }
}

/** The preview's registry file touched: it was deployed now (a root step, outside every tree). */
export function markPreviewStep(s: Settings): Step {
  const registry = previewRegistry(s.projectName)
  return {
    id: 'preview-mark',
    phase: 'connect',
    title: `Record ${s.instanceName} as deployed now (${registry})`,
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`mkdir -p ${registry} && chmod 0755 ${registry}`,
      sh`touch -- ${registryFile(s)}`
    )
  }
}

/** The preview's registry file removed (its remove, or a removal by the limits). */
export function unmarkPreviewStep(s: Settings): Step {
  return {
    id: 'remove-preview-mark',
    phase: 'cleanup',
    title: `Forget ${s.instanceName} in the previews' registry`,
    privileged: true,
    command: sh`rm -f -- ${registryFile(s)}`
  }
}

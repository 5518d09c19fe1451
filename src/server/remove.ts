// remove: the project taken off a host, as steps (data). What is there is read on the host first
// (removeListStep: the units, the site's files, the certificate, the app user, the deploy path's
// entries), then removed in an order that keeps other projects serving: the site first, behind
// nginx's gate; then the units; then the deploy path through the root boundary (releases, venvs
// and shared/ are trees the app shapes), all but the data (shared/, backups/) unless `force`,
// which also removes the data, the certificate and the app user. The deploy path itself and the
// lock files go as the lock is let go (server/lock.ts).

import { processMarker } from '../render/processes.js'
import type { OperationOf, Settings } from '../settings.js'
import { raw, script, sh } from '../shell.js'
import { asRoot } from './boundary.js'
import {
  INSTANCES,
  instanceSocketPath,
  layout,
  renewalUnitNames,
  RESERVED,
  RUNTIME_UNIT_FOLDER,
  socketPath,
  UNIT_FOLDER,
  unitNames
} from './layout.js'
import { unmarkPreviewStep } from './previews.js'
import { dropPreviewDatabaseStep } from './preview-database.js'
import type { Step } from './step.js'
import { GATE_FAILED } from './step-script.js'

type Remove = OperationOf<'remove'>

/** What a remove keeps unless `force`: the app's data. */
export const KEPT_DATA = ['shared', 'backups'] as const

/** What the host holds of the project, as removeListStep read it. */
export interface RemoveListing {
  /** unit files, by name (in the unit folder or the runtime one) */
  units: string[]
  /** the site, its link, the tmpfiles line, the sockets in /run */
  files: string[]
  /** certbot keeps a certificate under the project's name */
  certificate: boolean
  /** the app user exists */
  user: boolean
  /** the deploy path's entries (the lock files left out) */
  entries: string[]
  /** those of them the app user owns */
  appEntries: string[]
  /** a dry run: every path below the deploy path that would go, relative to it, file by file */
  paths: string[]
}

/** What a host's remove took away (or, in a dry run, would), and what it kept: the summary's. */
export interface RemovalReport {
  units: string[]
  /** the site, its link, the tmpfiles line, the sockets' links */
  files: string[]
  /** the deploy path's entries and how many paths each held (itself included) */
  entries: Array<{ name: string; count: number }>
  /** a dry run: every path below the deploy path that would go */
  paths?: string[]
  /** the certificate (force) */
  certificate: boolean
  /** a preview's own PostgreSQL database and role (preview-database-url) */
  database?: string
  /** the data kept (shared/, backups/), as paths */
  kept: string[]
  /** the app user: removed, kept and why, or none on the host */
  user: string
}

/** The unit files a remove looks for by name (process and schedule units: by their marker). */
export function projectUnitNames(instanceName: string): string[] {
  const u = unitNames(instanceName)
  const renewal = renewalUnitNames(instanceName)
  return [
    u.socket,
    u.service,
    u.legacy.socket,
    u.legacy.service,
    ...INSTANCES.flatMap((i) => [u.instance(i).socket, u.instance(i).service]),
    renewal.service,
    renewal.timer
  ]
}

/** The files of the project outside the deploy path and the unit folders. */
export function projectFiles(s: Settings): string[] {
  const p = layout(s)
  return [
    p.siteLink,
    p.site,
    p.tmpfiles,
    socketPath(s.instanceName),
    ...INSTANCES.map((i) => instanceSocketPath(s.instanceName, i)),
    instanceSocketPath(s.instanceName, 'legacy')
  ]
}

/**
 * The deploy path's entries the action makes, besides `.deploy/` (removed last): what a remove
 * takes. Anything else there is not the action's to remove (a MEDIA_ROOT kept in the deploy path,
 * another project's deploy path inside this one), except with `force` what the app user owns.
 */
export const ACTION_ENTRIES: readonly string[] = [
  'releases',
  ...[...RESERVED].filter(
    (name) => !['.deploy', '.deploy.lock', '.deploy.steps', 'backups'].includes(name)
  )
]

/** The entries a remove takes, `.deploy/` aside: the action's, with `force` the data and the app's. */
export function removedEntries(
  op: Remove,
  listing: Pick<RemoveListing, 'entries' | 'appEntries'>
): string[] {
  const taken = new Set([
    ...ACTION_ENTRIES,
    ...(op.force ? [...KEPT_DATA, ...listing.appEntries] : [])
  ])
  return listing.entries.filter((name) => taken.has(name))
}

/**
 * Reads what the host holds of the project: `unit <name>`, `file <path>`, `certificate`, `user`,
 * `entry <name>` lines; in a dry run, every path below the deploy path that would go, walked by
 * the boundary without following a link (`would-remove <path>`).
 */
export function removeListStep(s: Settings): Step {
  const p = layout(s)
  const folders = [UNIT_FOLDER, RUNTIME_UNIT_FOLDER]
  return {
    id: 'remove-list',
    phase: 'connect',
    title: `What ${s.instanceName} has on the host`,
    privileged: true,
    command: script(
      raw('set -u'),
      sh`for name in ${projectUnitNames(s.instanceName)}; do`,
      sh`  for folder in ${folders}; do if [ -e "$folder/$name" ] || [ -L "$folder/$name" ]; then echo "unit $name"; fi; done`,
      raw('done'),
      sh`grep -l -x -F -- ${processMarker(s.instanceName)} ${raw(`${UNIT_FOLDER}/*.service ${UNIT_FOLDER}/*.timer`)} 2>/dev/null | while read -r path; do echo "unit \${path##*/}"; done`,
      sh`for path in ${projectFiles(s)}; do if [ -e "$path" ] || [ -L "$path" ]; then echo "file $path"; fi; done`,
      sh`if [ -e ${`/etc/letsencrypt/renewal/${p.acme.certName}.conf`} ]; then echo certificate; fi`,
      sh`if id -u -- ${s.appUser} >/dev/null 2>&1; then echo user; fi`,
      sh`if [ -d ${p.root} ] && [ ! -L ${p.root} ]; then`,
      sh`  ls -A ${p.root} | while read -r name; do echo "entry $name"; done`,
      // The app's own entries (a MEDIA_ROOT kept in the deploy path): force takes them too.
      sh`  if id -u -- ${s.appUser} >/dev/null 2>&1; then find ${p.root} -mindepth 1 -maxdepth 1 -user ${s.appUser} -printf 'app-entry %f\n'; fi`,
      raw('fi')
    )
  }
}

/** Reads removeListStep's output; lock files are no entry (the lock made them). */
export function parseRemoveListing(s: Settings, stdout: string): RemoveListing {
  const p = layout(s)
  const locks = new Set([p.lock, p.stepsLock].map((path) => path.slice(p.root.length + 1)))
  const listing: RemoveListing = {
    units: [],
    files: [],
    certificate: false,
    user: false,
    entries: [],
    appEntries: [],
    paths: []
  }
  for (const line of stdout.split('\n')) {
    const [word, ...rest] = line.split(' ')
    const value = rest.join(' ')
    if (word === 'unit' && /^[\w.@:-]+$/.test(value) && !listing.units.includes(value))
      listing.units.push(value)
    else if (word === 'file' && projectFiles(s).includes(value)) listing.files.push(value)
    else if (word === 'certificate') listing.certificate = true
    else if (word === 'user') listing.user = true
    else if (word === 'entry' && value && !locks.has(value)) listing.entries.push(value)
    else if (word === 'app-entry' && value && !locks.has(value)) listing.appEntries.push(value)
  }
  return listing
}

/** True when the host holds nothing of the project. */
export function nothingToRemove(listing: RemoveListing): boolean {
  return listing.units.length === 0 && listing.files.length === 0 && listing.entries.length === 0
}

/**
 * The site and its link removed, then `nginx -t`: only when it passes is nginx reloaded; when it
 * fails, both are put back and the step exits GATE_FAILED with nginx's words (other projects keep
 * serving the configuration they have).
 */
export function removeSiteStep(s: Settings): Step {
  const p = layout(s)
  return {
    id: 'remove-site',
    phase: 'gates',
    title: `Remove the nginx site ${p.site}, nginx -t, reload nginx`,
    privileged: true,
    command: script(
      raw('set -eu'),
      raw('saved=$(mktemp -d)'),
      sh`if [ -e ${p.site} ] || [ -L ${p.site} ]; then mv -f ${p.site} "$saved/site"; fi`,
      sh`if [ -e ${p.siteLink} ] || [ -L ${p.siteLink} ]; then mv -f ${p.siteLink} "$saved/link"; fi`,
      raw('if command -v nginx >/dev/null 2>&1 && ! out=$(nginx -t 2>&1); then'),
      sh`  if [ -e "$saved/site" ] || [ -L "$saved/site" ]; then mv -f "$saved/site" ${p.site}; fi`,
      sh`  if [ -e "$saved/link" ] || [ -L "$saved/link" ]; then mv -f "$saved/link" ${p.siteLink}; fi`,
      raw('  rm -rf "$saved"'),
      raw('  printf "%s\\n" "$out" >&2'),
      raw(`  exit ${GATE_FAILED}`),
      raw('fi'),
      raw('rm -rf "$saved"'),
      raw('if systemctl is-active --quiet nginx; then systemctl reload nginx; fi')
    )
  }
}

/**
 * The units that run: the files found, a template's by its instances (which have no file). The
 * units of the earlier single instance and the renewal timer are stopped by name too.
 */
export function runningUnits(s: Settings, units: readonly string[]): string[] {
  const u = unitNames(s.instanceName)
  const named = units.flatMap((name) =>
    name === u.socket || name === u.service
      ? INSTANCES.map((i) => (name === u.socket ? u.instance(i).socket : u.instance(i).service))
      : [name]
  )
  // Timers and sockets first: nothing starts a service again while it stops.
  const rank = (name: string) => (/\.(timer|socket)$/.test(name) ? 0 : 1)
  return [...new Set(named)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

/**
 * Every unit found stopped and disabled, its files removed (in both unit folders, with their
 * drop-ins and the links that enabled them), systemd reloaded; then the tmpfiles line and the
 * sockets' links in /run.
 */
export function removeUnitsStep(s: Settings, listing: RemoveListing): Step {
  const p = layout(s)
  const running = runningUnits(s, listing.units)
  const others = listing.files.filter((path) => path !== p.site && path !== p.siteLink)
  const paths = listing.units.flatMap((name) =>
    [UNIT_FOLDER, RUNTIME_UNIT_FOLDER].flatMap((folder) => [
      `${folder}/${name}`,
      `${folder}/${name}.d`
    ])
  )
  return {
    id: 'remove-units',
    phase: 'restart',
    title: `Stop, disable and remove ${listing.units.length} units of ${s.instanceName}`,
    privileged: true,
    command: script(
      raw('set -u'),
      running.length > 0
        ? script(
            sh`for unit in ${running}; do`,
            raw(
              '  systemctl disable --now -- "$unit" >/dev/null 2>&1 || systemctl stop -- "$unit" >/dev/null 2>&1 || true'
            ),
            raw('done')
          )
        : undefined,
      paths.length > 0 ? sh`rm -rf -- ${paths}` : undefined,
      ...listing.units.map(
        (name) =>
          sh`find ${UNIT_FOLDER} ${RUNTIME_UNIT_FOLDER} -maxdepth 2 -path ${`*.wants/${name}`} -type l -delete 2>/dev/null || true`
      ),
      listing.units.length > 0 ? raw('systemctl daemon-reload') : undefined,
      running.length > 0 ? sh`systemctl reset-failed -- ${running} 2>/dev/null || true` : undefined,
      others.length > 0 ? sh`rm -f -- ${others}` : undefined
    )
  }
}

/**
 * The entries a remove takes (removedEntries), through the root boundary (releases, venvs and
 * shared/ are trees the app shapes): `.deploy/` last, so a remove cut short is run again with its
 * state still there. Prints `removed <name> <count>` for each; `dryRun`: `would-remove <path>`
 * for every path below them, walked without following a link, and removes nothing.
 */
export function removeFilesStep(s: Settings, names: string[], dryRun = false): Step {
  const p = layout(s)
  const state = p.state.slice(p.root.length + 1)
  return {
    id: dryRun ? 'remove-walk' : 'remove-files',
    phase: 'cleanup',
    title: `${dryRun ? 'List what would go' : 'Remove'} in ${p.root}: ${[...names, state].join(', ')}`,
    privileged: true,
    command: asRoot(
      s,
      { op: 'remove', path: p.root, names, say: true, ...(dryRun ? { dryRun } : {}) },
      { op: 'remove', path: p.root, names: [state], say: true, ...(dryRun ? { dryRun } : {}) }
    )
  }
}

/** force: the certificate certbot keeps under the project's name. */
export function removeCertificateStep(s: Settings): Step {
  const name = layout(s).acme.certName
  return {
    id: 'remove-certificate',
    phase: 'cleanup',
    title: `certbot delete --cert-name ${name}`,
    privileged: true,
    command: sh`certbot delete --cert-name ${name} --non-interactive 2>&1`
  }
}

/** Where unit files are looked for a `User=` line that names the app user (other units). */
const UNIT_FILES = [
  '/etc/systemd/system/*.service',
  '/run/systemd/system/*.service',
  '/lib/systemd/system/*.service',
  '/usr/lib/systemd/system/*.service'
]

/**
 * force: the app user removed, its processes ended first; kept when another unit on the host
 * runs as it (another project's), saying which (`user-kept <units>`; else `user-removed`).
 */
export function removeUserStep(s: Settings): Step {
  const user = s.appUser
  return {
    id: 'remove-user',
    phase: 'cleanup',
    title: `Remove the app user ${user}`,
    privileged: true,
    command: script(
      raw('set -u'),
      sh`if ! id -u -- ${user} >/dev/null 2>&1; then exit 0; fi`,
      sh`others=$(grep -l -x -F -- ${`User=${user}`} ${raw(UNIT_FILES.join(' '))} 2>/dev/null | xargs -r -n1 basename | tr '\n' ' ')`,
      raw('if [ -n "$others" ]; then echo "user-kept $others"; exit 0; fi'),
      sh`pkill -KILL -u ${user} 2>/dev/null || true`,
      sh`for _ in 1 2 3 4 5 6 7 8 9 10; do pgrep -u ${user} >/dev/null 2>&1 || break; sleep 0.5; done`,
      sh`userdel -- ${user}`,
      raw('echo user-removed')
    )
  }
}

/** The removal's steps, in order, for what the host holds. */
export function removeSteps(s: Settings, op: Remove, listing: RemoveListing): Step[] {
  const p = layout(s)
  const site = listing.files.some((path) => path === p.site || path === p.siteLink)
  return [
    ...(site ? [removeSiteStep(s)] : []),
    ...(listing.units.length > 0 || listing.files.length > 0 ? [removeUnitsStep(s, listing)] : []),
    ...(s.preview?.database ? [dropPreviewDatabaseStep(s)] : []),
    ...(listing.entries.length > 0 ? [removeFilesStep(s, removedEntries(op, listing))] : []),
    ...(op.force && listing.certificate ? [removeCertificateStep(s)] : []),
    ...(op.force && listing.user ? [removeUserStep(s)] : []),
    ...(s.preview ? [unmarkPreviewStep(s)] : [])
  ]
}

/** What removeFilesStep printed in a dry run: every path that would go, relative to the deploy path. */
export function parseWouldRemove(stdout: string): string[] {
  return stdout.split('\n').flatMap((line) => {
    const m = /^would-remove ("(?:[^"\\]|\\.)*")$/.exec(line)
    return m ? [JSON.parse(m[1]) as string] : []
  })
}

/** What removeFilesStep printed: each entry removed and how many paths went with it. */
export function parseRemoved(stdout: string): Array<{ name: string; count: number }> {
  return stdout.split('\n').flatMap((line) => {
    const m = /^removed ("(?:[^"\\]|\\.)*") (\d+)$/.exec(line)
    return m ? [{ name: JSON.parse(m[1]) as string, count: Number(m[2]) }] : []
  })
}

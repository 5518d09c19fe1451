// The release: its id, the layout it lives in, its upload and venv, and its end (failed, pruned).

import { pythonFile } from './python.js'
import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import { LEGACY_FAILED_MARK, layout, RELEASE_ID_LINE } from './layout.js'
import type { ProjectSettings } from './discover.js'
import { asRoot, NOT_READY, type BoundaryOp } from './boundary.js'
import { asApp, unitPrefix } from './sandbox.js'
import type { Step } from './step.js'

export function releaseId(now: Date, sha: string): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  const commit = /^[0-9a-f]{7,40}$/i.test(sha) ? sha.slice(0, 7).toLowerCase() : 'local'
  return `${stamp}-${commit}`
}

/**
 * The run's release id, fixed when the first host's lock is taken: a run that waited for another
 * deploy of the same commit gets a later id instead of colliding with it. Every host shares it.
 */
export function releaseClock(sha: string, now = () => new Date()): () => string {
  let id = ''
  return () => (id ||= releaseId(now(), sha))
}

export function prepareStep(s: Settings): Step {
  const p = layout(s)
  const app = s.appUser
  return {
    id: 'prepare',
    phase: 'connect',
    title: `Prepare ${s.deployPath} and the app user ${app}`,
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`if ! id -u ${app} >/dev/null 2>&1; then useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin ${app}; echo "created the system user ${app}"; fi`,
      sh`mkdir -p ${p.releases} ${p.state} ${p.failed}`,
      sh`chown -h root:root ${p.root} ${p.releases} ${p.state} ${p.failed} && chmod 755 ${p.root} ${p.releases} && chmod 700 ${p.state}`,
      // The user must be one of its own (never root, nginx's, or in another group) before it is
      // handed anything. The app writes only shared/ (database, media); nginx (its group) may
      // only pass through it, and no other user may: not another project's or a preview's app
      // user, who would read a SQLite database the Django steps made (their umask is 022).
      asRoot(
        s,
        { op: 'user', user: app },
        { op: 'folder', path: p.shared, owner: { user: app, group: 'www-data' }, mode: '710' }
      )
    )
  }
}

export function dotenvStep(s: Settings): Step {
  const env = layout(s).env
  return {
    id: 'dotenv',
    phase: 'upload',
    title: 'Write the .env',
    privileged: true,
    stdin: 'dotenv',
    // The values come on stdin, never on a command line; the file is root's, in root's folder.
    command: script(raw('set -eu'), sh`umask 077; cat > ${env}.new`, sh`mv -f ${env}.new ${env}`)
  }
}

/** The .env text: double quotes with \ " $ ` escaped read the same in systemd and in sh. */
export function dotenvText(s: Settings): string {
  return s.dotenv.map(([k, v]) => `${k}="${v.replace(/[\\"$`]/g, '\\$&')}"\n`).join('')
}

/**
 * Code is root's and the app's group's to read, nobody else's: others may only pass through
 * folders (nginx serves the collected static files, which are sealed on their own: `except`).
 * `handed`: the release was the app's (build commands, a failed step), so only the app's files
 * are sealed; any other file in it is one the app moved in, and goes.
 */
export function sealRelease(
  s: Settings,
  dir: string,
  options: { except?: string; handed?: boolean } = {}
): BoundaryOp {
  return {
    op: 'take',
    path: dir,
    group: s.appUser,
    mode: 'code',
    except: options.except,
    user: options.handed ? s.appUser : undefined
  }
}

/**
 * The upload, and beside it (when the venv is kept by a key and its requirements came with the
 * plan) the venv built from those requirements: pip downloads and installs while the code is
 * still on its way. Its failure is not the upload's: the venv step builds it again and says why.
 */
export function uploadStep(s: Settings, id: string, early?: EarlyVenv): Step {
  const dir = layout(s).release(id)
  const beside = early ? earlyVenvBuild(s, early, layout(s).venv(early.key)) : undefined
  return {
    id: 'upload',
    phase: 'upload',
    title: `Upload ${s.source ?? 'nothing'} to releases/${id}`,
    privileged: true,
    stdin: 'source',
    // Owned by root: the app user can read the code but never change it.
    command: script(
      raw('set -eu'),
      sh`if [ -e ${dir} ]; then printf '%s\n' ${`release ${id} already exists on the host (one commit deployed twice in a second?)`} >&2; exit 1; fi`,
      sh`mkdir ${dir}`,
      // In the background, reading nothing of the upload, its output kept for after it.
      beside &&
        script(
          raw('venv_log=$(mktemp)'),
          sh`(${beside}) </dev/null >"$venv_log" 2>&1 &`,
          raw('venv_pid=$!')
        ),
      // GNU tar says "Wrote only N of M bytes" when the disk fills: say what that means.
      sh`if ! tar -xzf - -C ${dir} --no-same-owner --no-same-permissions; then`,
      sh`  [ "$(df -Pk ${dir} | awk 'NR == 2 { print $4 }')" -ge 1024 ] || echo 'tar: No space left on device' >&2`,
      beside && sh`  systemctl stop ${`${unitPrefix(s)}-venv-`}"$$" 2>/dev/null || true`,
      raw('  exit 2'),
      raw('fi'),
      // What the action writes in a release is its own: nothing the repository ships in its place.
      asRoot(
        s,
        { op: 'remove', path: dir, names: ['.venv', LEGACY_FAILED_MARK] },
        sealRelease(s, dir)
      ),
      beside &&
        script(
          raw('venv_status=0; wait "$venv_pid" || venv_status=$?'),
          raw('cat "$venv_log"; rm -f "$venv_log"'),
          raw(
            '[ "$venv_status" = 0 ] || echo "the venv beside the upload failed (exit $venv_status): the venv step builds it again"'
          )
        )
    )
  }
}

/**
 * Venvs are kept by what they hold (requirements, interpreter, flags) and linked into each
 * release, so a deploy whose requirements did not change builds none. Returns null when the
 * requirements point at local paths, whose content the key could not cover.
 */
export function venvKey(
  requirements: Array<{ path: string; text: string }> | null,
  python: string,
  systemSitePackages: boolean
): string | null {
  const local = /^\s*(-e|--editable|\.|\/|file:)|\sfile:|@\s*file:/m
  if (requirements?.some((file) => local.test(file.text))) return null
  const hash = createHash('sha256').update(`${python}\n${systemSitePackages}\n`)
  for (const file of requirements ?? []) hash.update(`${file.path}\n${file.text}\n`)
  return hash.digest('hex').slice(0, 16)
}

/**
 * Prints the pip wheel ensurepip installs from: the distribution's (Debian's WHEEL_PKG_DIR) or
 * Python's own bundled one; nothing when there is none (python/pip_wheel.py).
 */
export const PIP_WHEEL_PY = pythonFile(new URL('./python/pip_wheel.py', import.meta.url))

/**
 * How a venv installs from a list sent with its command rather than from the release: a lock's
 * hashed requirements, resolved on the runner for this host (docs/dependencies.md).
 */
export interface SentInstall {
  /** the file pip installs from, one of the files sent */
  entry: string
  /** pip's flags for it: --require-hashes --no-deps, --only-binary for the packages with wheels */
  pipArgs: string[]
  /** pip's index comes on the venv step's stdin (it holds credentials): never built ahead */
  privateIndex: boolean
  /** where the dependencies came from, for the log and the summary (e.g. "uv.lock, 21 packages, by hash") */
  summary: string
  /** what the venv holds, `name==version` each: the dry run lists them */
  packages: string[]
  /** a dry run with a live venv: what would change in it (flow/dependencies.ts venvChanges) */
  changes?: string[]
  /** wheels: runner, to a host without this venv: the files come on the venv step's stdin (a tar) */
  wheels?: boolean
}

/** The requirements files a venv's key covers, sent ahead to build it beside the upload. */
export interface EarlyVenv {
  key: string
  files: Array<{ path: string; text: string }>
  /** a lock's list: the venv step builds from the files sent too, never from the release */
  install?: SentInstall
}

/** Larger than requirements files are: the command that carries them stays small. */
const EARLY_VENV_MAX_BYTES = 32 * 1024

/** The venv built beside the upload, when the requirements can be sent ahead (or undefined). */
export function earlyVenv(
  key: string | null,
  files: Array<{ path: string; text: string }> | null | undefined,
  install?: SentInstall
): EarlyVenv | undefined {
  const size = (files ?? []).reduce((n, f) => n + Buffer.byteLength(f.text), 0)
  if (install?.privateIndex || install?.wheels) return undefined
  return key && files && size <= EARLY_VENV_MAX_BYTES ? { key, files, install } : undefined
}

/** Where the files sent with a venv's command are written, below the venv (removed after). */
const SENT_FOLDER = '.requirements'
/** Where wheels: runner's files land, below the venv, before the app user has it (removed after). */
const WHEELS_FOLDER = '.wheels'

/** The stdin of a venv step whose pip reads a private index: the two URLs, a line each. */
export function pipIndexText(s: Settings): string {
  return `${s.dependencies.indexUrl}\n${s.dependencies.extraIndexUrl}\n`
}

/**
 * A private index's URLs, read by root from the step's stdin and handed to the build as lines
 * of its own script (which reaches the unit on a pipe): in pip's environment, never in a file,
 * on a command line or in a unit property (SECURITY.md).
 */
const PIP_INDEX_READ = script(
  raw('IFS= read -r pip_index || true; IFS= read -r pip_extra_index || true'),
  raw(
    `pip_env() { [ -z "$2" ] || printf "%s='%s'; export %s\\n" "$1" "$(printf '%s' "$2" | sed "s/'/'\\\\\\\\''/g")" "$1"; }`
  )
)
const PIP_INDEX_ENV = raw(
  'pip_env PIP_INDEX_URL "$pip_index"; pip_env PIP_EXTRA_INDEX_URL "$pip_extra_index"'
)

/**
 * Builds the venv, by the app user in the sandbox with -I (nothing in the repository can stand
 * in for venv or pip, and pip and setup.py write nowhere but the venv, and for requirements on
 * local paths the release); fails unless the build ran to its end.
 */
function venvBuild(
  s: Settings,
  at: {
    venv: string
    cwd: string
    requirements: string
    writable: string[]
    install?: SentInstall
  }
): ShellText {
  const { venv, requirements, install } = at
  const flags = s.systemSitePackages ? ['--system-site-packages'] : []
  const options = sh`--no-input --quiet --disable-pip-version-check`
  // wheels: runner: the files sent with the step, no index at all.
  const args = [
    ...(install?.pipArgs ?? []),
    ...(install?.wheels ? ['--no-index', '--find-links', `${venv}/${WHEELS_FOLDER}`] : [])
  ]
  const pip = args.length
    ? sh`install ${options} ${args} -r ${requirements}`
    : sh`install ${options} -r ${requirements}`
  return script(
    asApp(
      s,
      {
        name: 'venv',
        cwd: at.cwd,
        writable: at.writable,
        prelude: install?.privateIndex ? PIP_INDEX_ENV : undefined
      },
      script(
        sh`${s.python} -I -m venv --without-pip ${flags} ${venv}`,
        sh`if [ -f ${requirements} ]; then`,
        // pip runs from the wheel ensurepip would install (a zip Python imports from):
        // installing pip into every venv is most of a cold deploy's venv time (2 to 4 s), and
        // the app never needs it (Python 3.12's venvs have no setuptools either).
        sh`  wheel=$(${venv}/bin/python -I -c ${PIP_WHEEL_PY})`,
        sh`  if [ -z "$wheel" ]; then echo ${`${s.python} has no pip wheel for ensurepip: install python3-venv (or python3.N-venv) on the host`} >&2; exit 1; fi`,
        sh`  ${venv}/bin/python -I "$wheel/pip" ${pip}`,
        sh`  echo ${`installed ${install ? install.summary : s.requirements}`}`,
        raw('fi'),
        // A build stopped from outside (a killed run's, by the next run's lock) ends
        // "successfully" for systemd (SIGTERM is a clean exit): only this mark says it ended.
        sh`: > ${venv}/.built`
      )
    )
  )
}

/**
 * Root takes what the build wrote (`built`: the venv, or the release a venv inside it was built
 * in) and marks the venv usable, when the build ran to its end: a venv without the mark is a
 * half-built one, built again.
 */
function completeVenv(s: Settings, venv: string, built: string, remove: string[] = []): BoundaryOp {
  return {
    op: 'venv',
    path: venv,
    tree: built,
    mode: built === venv ? 'public' : 'code',
    group: s.appUser,
    user: s.appUser,
    remove
  }
}

/**
 * A kept venv, built from the requirements sent with the command (their paths as in the source,
 * so -r and -c find each other), in a folder of its own below the venv, removed after.
 */
function earlyVenvBuild(s: Settings, early: EarlyVenv, venv: string): ShellText {
  return script(
    raw('set -eu'),
    sh`if ! ${asRoot(s, { op: 'ready', path: venv })}; then`,
    sentVenvBuild(s, early, venv),
    sh`  echo ${`built the venv ${early.key} beside the upload`}`,
    raw('fi')
  )
}

/**
 * A kept venv built from the files sent with the command (their paths as in the source, so -r
 * and -c find each other), in a folder of its own below the venv, removed after; `linked`: the
 * release's link to it, made with its completion.
 */
function sentVenvBuild(
  s: Settings,
  sent: EarlyVenv,
  venv: string,
  linked: BoundaryOp[] = []
): ShellText {
  const p = layout(s)
  return script(
    sh`  rm -rf ${venv} && mkdir -p ${p.venvs} && mkdir ${venv}`,
    // As the upload lands: root's tar, into a folder root just made, that no one else has yet
    // (readable by the build: the step's umask may be sudo's 077; the folder's mode stays root's).
    sent.install?.wheels
      ? sh`  (umask 022 && mkdir ${`${venv}/${WHEELS_FOLDER}`} && tar -xzf - -C ${`${venv}/${WHEELS_FOLDER}`} --no-same-owner --no-same-permissions --no-overwrite-dir)`
      : undefined,
    // Root's files in a folder root makes, handed to the app user once they are written.
    asRoot(
      s,
      {
        op: 'files',
        path: `${venv}/${SENT_FOLDER}`,
        files: sent.files.map((f) => [f.path, Buffer.from(f.text).toString('base64')])
      },
      { op: 'folder', path: venv, owner: { user: s.appUser, group: s.appUser }, mode: '755' }
    ),
    venvBuild(s, {
      venv,
      cwd: venv,
      requirements: `${venv}/${SENT_FOLDER}/${sent.install?.entry ?? s.requirements}`,
      writable: [venv],
      install: sent.install
    }),
    asRoot(
      s,
      completeVenv(s, venv, venv, [SENT_FOLDER, ...(sent.install?.wheels ? [WHEELS_FOLDER] : [])]),
      ...linked
    )
  )
}

/** `sent`: a lock's list, built from the files sent with the command (its key is the list's). */
export function venvStep(s: Settings, id: string, key: string | null, sent?: EarlyVenv): Step {
  const p = layout(s)
  const dir = p.release(id)
  if (sent?.install) key = sent.key
  const venv = key ? p.venv(key) : `${dir}/.venv`
  const linked: BoundaryOp[] = [
    ...(key
      ? [{ op: 'symlink', path: dir, name: '.venv', target: `../../venvs/${key}` } as const]
      : []),
    { op: 'compile', path: dir, group: s.appUser, skip: ['.venv'] }
  ]
  return {
    id: 'venv',
    phase: 'venv',
    title: key
      ? `Venv ${key} (built when its requirements change)`
      : 'Create the venv and install requirements',
    privileged: true,
    stdin: sent?.install?.wheels ? 'wheels' : sent?.install?.privateIndex ? 'pip-index' : undefined,
    command: script(
      raw('set -eu'),
      sent?.install?.privateIndex && !sent.install.wheels ? PIP_INDEX_READ : undefined,
      // A venv is usable once marked complete; a half-built one (a killed run) is rebuilt. The
      // release is linked to it and byte-compiled in the same process: by root, which reads the
      // sources by descriptor (a linked one is passed by) and compiles without running them (the
      // release is read-only to the app, which would otherwise compile on every start).
      raw('ready=0'),
      sh`${asRoot(s, { op: 'ready', path: venv }, ...linked)} || ready=$?`,
      sh`if [ "$ready" = ${NOT_READY} ]; then`,
      sent?.install ? sentVenvBuild(s, sent, venv, linked) : venvRebuild(s, dir, venv, key, linked),
      sh`  echo "built the venv ${key ?? '.venv'}"`,
      raw('elif [ "$ready" != 0 ]; then exit "$ready"'),
      key ? sh`else echo "reused the venv ${key}"` : undefined,
      sh`fi`
    )
  }
}

/** The venv built again from the requirements in the release. */
function venvRebuild(
  s: Settings,
  dir: string,
  venv: string,
  key: string | null,
  linked: BoundaryOp[]
): ShellText {
  const p = layout(s)
  // In the release (pip reads local paths from there).
  const build = venvBuild(s, {
    venv,
    cwd: dir,
    requirements: `${dir}/${s.requirements}`,
    writable: key ? [venv] : [dir]
  })
  return script(
    sh`  rm -rf ${venv}`,
    key
      ? script(
          sh`  mkdir -p ${p.venvs} && mkdir ${venv}`,
          asRoot(s, {
            op: 'folder',
            path: venv,
            owner: { user: s.appUser, group: s.appUser },
            mode: '755'
          })
        )
      : asRoot(s, { op: 'hand', path: dir, user: s.appUser }),
    build,
    asRoot(s, completeVenv(s, venv, key ? venv : dir), ...linked)
  )
}

/**
 * After a step failed on a full disk: the new release (never live) and any half-built venv are
 * removed to give the space back; prints what the release held and what is free now, in KB.
 */
export function removePartialStep(s: Settings, id: string): Step {
  const p = layout(s)
  const dir = p.release(id)
  return {
    id: 'remove-partial',
    phase: 'cleanup',
    title: `Remove the partial release ${id} (the disk is full)`,
    privileged: true,
    command: script(
      sh`echo "written=$(du -sk ${dir} 2>/dev/null | cut -f1)"`,
      sh`rm -rf ${dir}`,
      sh`for v in ${p.venvs}/*; do [ -d "$v" ] && [ ! -e "$v/.complete" ] && rm -rf "$v"; done; true`,
      sh`echo "free=$(df -Pk ${p.root} | awk 'NR == 2 { print $4 }')"`
    )
  }
}

/** What removePartialStep printed, in MB. */
export function parseDiskSpace(stdout: string): { writtenMb: number; freeMb: number } {
  const kb = (name: string) => Number(new RegExp(`^${name}=(\\d+)$`, 'm').exec(stdout)?.[1] ?? 0)
  const mb = (n: number) => Math.round(n / 102.4) / 10
  return { writtenMb: mb(kb('written')), freeMb: mb(kb('free')) }
}

/**
 * A release that failed stays for inspection until pruned, marked so no rollback chooses it, and
 * root's again: a step stopped half-way (command-timeout, a dropped connection) may have left
 * folders the app was handed for the Django process.
 */
export function markFailedStep(s: Settings, id: string): Step {
  const { failed, release } = { failed: layout(s).failed, release: layout(s).release(id) }
  return {
    id: 'mark-failed',
    phase: 'cleanup',
    title: `Mark ${id} as failed (kept for inspection until pruned)`,
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`mkdir -p ${failed} && : > ${`${failed}/${id}`}`,
      sh`if [ -d ${release} ] && [ ! -L ${release} ]; then ${asRoot(s, sealRelease(s, release, { handed: true }))}; fi`
    )
  }
}

/**
 * Removes old releases: keeps `keep` newest, and never the live or the previous one. Only
 * folders named like a release count: settings may put other folders beside them (a
 * STATIC_ROOT of BASE_DIR.parent), and a half-built release (a killed run) may have no venv.
 * First, the live release's deploy key: recorded when this run deployed it (the run went well
 * up to here), forgotten when the run changed its files otherwise (source: none, a rollback).
 * The project's settings as they were read go with it: the next deploy plans with them.
 */
export function pruneStep(
  s: Settings,
  keep: number,
  live: string,
  previous: string,
  deployKey?: string | null,
  projectSettings?: ProjectSettings
): Step {
  const p = layout(s)
  const key = `${p.deployed}/${live}`
  const printed = projectSettings?.printed
  const read = printed ? Buffer.from(JSON.stringify(printed)).toString('base64') : ''
  return {
    id: 'prune',
    phase: 'cleanup',
    title: `Keep the ${keep} newest releases`,
    privileged: true,
    command: script(
      raw('set -eu'),
      deployKey
        ? sh`mkdir -p ${p.deployed} && printf '%s\n' ${deployKey} ${read} > ${key}`
        : sh`rm -f ${key}`,
      sh`cd ${p.releases}`,
      raw(
        "# shellcheck disable=SC2010 # ls: root's folder, names root chose (no line break in any)"
      ),
      sh`ls -1 | grep -xE ${RELEASE_ID_LINE} | sort -r | tail -n +${keep + 1} | while read -r release; do`,
      // Its database backup and record of migrations go with it.
      sh`  if [ "$release" != ${live} ] && [ "$release" != ${previous || '-'} ]; then rm -rf -- "$release" ${p.failed}/"$release" ${p.served}/"$release" ${p.migrated}/"$release" ${p.deployed}/"$release" ${p.backups}/"$release".sqlite3 ${p.backups}/"$release".pgdump; echo "removed $release"; fi`,
      raw('done'),
      // A kept venv goes with the last release that links to it.
      sh`if [ -d ${p.venvs} ]; then`,
      raw('  used=$(for r in */; do readlink "$r.venv" 2>/dev/null || true; done)'),
      sh`  for venv in ${p.venvs}/*; do`,
      raw('    [ -e "$venv" ] || continue'),
      raw(
        '    case "$used" in *"/${venv##*/}"*) ;; *) rm -rf -- "$venv"; echo "removed the venv ${venv##*/}" ;; esac'
      ),
      raw('  done'),
      raw('fi')
    )
  }
}

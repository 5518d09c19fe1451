// The deploy as data: pure functions from settings (and what the host told us) to the shell
// steps that run on it. One executor runs them (remote/), so a dry run, a unit test and a real
// deploy all see exactly the same commands.

import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import { renderService, renderSocket, socketPath, unitNames } from './render/gunicorn.js'
import { renderSite, type SitePaths } from './render/nginx.js'
import type { Settings } from './settings.js'
import { raw, script, sh, type ShellText } from './shell.js'

export type Phase =
  'connect' | 'upload' | 'venv' | 'django' | 'gates' | 'restart' | 'health' | 'cleanup'

export interface Step {
  id: string
  phase: Phase
  title: string
  command: ShellText
  /** runs as root (through sudo -n when the SSH user is not root) */
  privileged: boolean
}

/** What the host said about itself before the deploy. */
export interface HostFacts {
  cpus: number
  /** the release `current` points at, or '' on a first deploy */
  live: string
  /** releases on the host, newest first */
  releases: string[]
  /** releases marked as failed */
  failed: string[]
  /** the interpreter's version and real path, part of a venv's key */
  python: string
}

/** The files the action owns on the host, with their full paths. */
export interface ConfigFiles {
  socket: { path: string; text: string }
  service: { path: string; text: string }
  site: { path: string; text: string }
}

export const SITE_AVAILABLE = '/etc/nginx/sites-available'
export const SITE_ENABLED = '/etc/nginx/sites-enabled'
export const UNIT_FOLDER = '/etc/systemd/system'
/** Exit code a step uses when a gate rejects the new files (they were put back). */
export const GATE_FAILED = 42
export const FAILED_MARK = '.deploy-failed'

export const paths = (s: Settings) => ({
  releases: `${s.deployPath}/releases`,
  release: (id: string) => `${s.deployPath}/releases/${id}`,
  current: `${s.deployPath}/current`,
  shared: `${s.deployPath}/shared`,
  env: `${s.deployPath}/shared/.env`,
  state: `${s.deployPath}/.deploy`,
  lock: `${s.deployPath}/.deploy.lock`,
  venvs: `${s.deployPath}/venvs`
})

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

export function workerCount(s: Settings, facts: HostFacts): number {
  return s.workers === 'auto' ? Math.min(2 * Math.max(facts.cpus, 1) + 1, 17) : s.workers
}

/** The Host header the health check sends: the first server name, or none for the catch-all. */
export function healthHost(s: Settings): string {
  const name = s.serverNames[0]
  if (name === '_') return 'localhost'
  return name.replace(/^\*\./, 'www.').replace(/^\./, '').replace(/\.\*$/, '.com')
}

// ---------------------------------------------------------------------------------------------
// Before the release: look at the host, prepare the layout

export function inspectStep(s: Settings): Step {
  const p = paths(s)
  return {
    id: 'inspect',
    phase: 'connect',
    title: 'Check the host (nginx, systemd, python, sudo)',
    privileged: true,
    command: script(
      raw('set -u'),
      raw('missing=""'),
      sh`for tool in nginx systemctl systemd-analyze runuser ${s.python}; do command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; done`,
      raw('if [ -n "$missing" ]; then echo "missing on the host:$missing" >&2; exit 3; fi'),
      sh`if ! ${s.python} -c 'import venv, ensurepip' >/dev/null 2>&1; then`,
      sh`  package=$(${s.python} -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])' 2>/dev/null || echo python3-venv)`,
      sh`  printf '%s cannot create a venv: install the package %s (Debian/Ubuntu: apt-get install %s)\n' ${s.python} "$package" "$package" >&2`,
      raw('  exit 4'),
      raw('fi'),
      raw('echo "cpus=$(nproc)"'),
      sh`echo "python=$(${s.python} -c 'import os, sys; print(sys.version.split()[0], os.path.realpath(sys.executable))')"`,
      sh`echo "live=$(basename "$(readlink ${p.current} 2>/dev/null)" 2>/dev/null)"`,
      sh`echo "releases=$(ls -1 ${p.releases} 2>/dev/null | sort -r | tr '\n' ' ')"`,
      sh`echo "failed=$(cd ${p.releases} 2>/dev/null && for r in *; do [ -e "$r"/${FAILED_MARK} ] && printf '%s ' "$r"; done)"`
    )
  }
}

export function parseFacts(stdout: string): HostFacts {
  const values = new Map<string, string>()
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=')
    if (at > 0) values.set(line.slice(0, at), line.slice(at + 1).trim())
  }
  const list = (key: string) =>
    (values.get(key) ?? '').split(/\s+/).filter((r) => /^[\w.-]+$/.test(r))
  const live = values.get('live') ?? ''
  return {
    cpus: Number(values.get('cpus')) || 1,
    live: /^[\w.-]+$/.test(live) && live !== '.' ? live : '',
    releases: list('releases'),
    failed: list('failed'),
    python: values.get('python') ?? ''
  }
}

export function prepareStep(s: Settings): Step {
  const p = paths(s)
  const app = s.appUser
  return {
    id: 'prepare',
    phase: 'connect',
    title: `Prepare ${s.deployPath} and the app user ${app}`,
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`if ! id -u ${app} >/dev/null 2>&1; then useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin ${app}; echo "created the system user ${app}"; fi`,
      sh`mkdir -p ${p.releases} ${p.shared} ${p.state}`,
      sh`chown root:root ${s.deployPath} ${p.releases} ${p.state} && chmod 755 ${s.deployPath} ${p.releases} && chmod 700 ${p.state}`,
      // The app writes only shared/ (database, media); nginx may only pass through it.
      sh`chown ${app}:${app} ${p.shared} && chmod 711 ${p.shared}`
    )
  }
}

export function dotenvStep(s: Settings): Step {
  const p = paths(s)
  return {
    id: 'dotenv',
    phase: 'upload',
    title: 'Write shared/.env',
    privileged: true,
    // The values come on stdin, never on a command line.
    command: script(
      raw('set -eu'),
      sh`umask 077; cat > ${p.env}.new`,
      sh`chown ${s.appUser}:${s.appUser} ${p.env}.new && chmod 600 ${p.env}.new && mv -f ${p.env}.new ${p.env}`
    )
  }
}

/** The .env text: double quotes with \ " $ ` escaped read the same in systemd and in sh. */
export function dotenvText(s: Settings): string {
  return s.dotenv.map(([k, v]) => `${k}="${v.replace(/[\\"$`]/g, '\\$&')}"\n`).join('')
}

// ---------------------------------------------------------------------------------------------
// The release: upload, venv, Django

export function uploadStep(s: Settings, id: string): Step {
  const dir = paths(s).release(id)
  return {
    id: 'upload',
    phase: 'upload',
    title: `Upload ${s.source ?? 'nothing'} to releases/${id}`,
    privileged: true,
    // Owned by root: the app user can read the code but never change it.
    command: script(
      raw('set -eu'),
      sh`if [ -e ${dir} ]; then printf '%s\n' ${`release ${id} already exists on the host (one commit deployed twice in a second?)`} >&2; exit 1; fi`,
      sh`mkdir ${dir}`,
      sh`tar -xzf - -C ${dir} --no-same-owner --no-same-permissions`,
      sh`chmod -R u+rwX,go+rX,go-w ${dir}`
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

export function venvStep(s: Settings, id: string, key: string | null): Step {
  const dir = paths(s).release(id)
  const requirements = `${dir}/${s.requirements}`
  const venv = key ? `${paths(s).venvs}/${key}` : `${dir}/.venv`
  const venvFlags = s.systemSitePackages ? ['--system-site-packages'] : []
  return {
    id: 'venv',
    phase: 'venv',
    title: key
      ? `Venv ${key} (built when its requirements change)`
      : 'Create the venv and install requirements',
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`cd ${dir}`,
      // A venv is usable once marked complete; a half-built one (a killed run) is rebuilt.
      sh`if [ ! -e ${venv}/.complete ]; then`,
      sh`  rm -rf ${venv}`,
      // pip only when there is something to install: ensurepip alone takes seconds.
      sh`  if [ -f ${requirements} ]; then`,
      sh`    ${s.python} -m venv ${venvFlags} ${venv}`,
      sh`    ${venv}/bin/python -m pip install --disable-pip-version-check --no-input --quiet -r ${requirements}`,
      sh`  else`,
      sh`    ${s.python} -m venv --without-pip ${venvFlags} ${venv}`,
      sh`  fi`,
      sh`  : > ${venv}/.complete`,
      sh`  echo "built the venv ${key ?? '.venv'}"`,
      key ? sh`else echo "reused the venv ${key}"` : undefined,
      sh`fi`,
      key ? sh`ln -sfn ${`../../venvs/${key}`} .venv` : undefined,
      // Byte-compile as root: the release is read-only to the app, which would otherwise
      // compile on every start.
      raw('.venv/bin/python -m compileall -q -x "(^|/)\\.venv/" . >/dev/null 2>&1 || true')
    )
  }
}

/** Runs a Django management command (or shell) as the app user, in the release, with .env loaded. */
function asApp(s: Settings, id: string, command: ShellText): ShellText {
  const p = paths(s)
  const inner = script(
    raw('set -eu'),
    sh`if [ -r ${p.env} ]; then set -a; . ${p.env}; set +a; fi`,
    sh`export DJANGO_SETTINGS_MODULE=${s.settingsModule} PATH=${p.release(id)}/.venv/bin:/usr/local/bin:/usr/bin:/bin`,
    command
  )
  return sh`cd ${p.release(id)} && runuser -u ${s.appUser} -- sh -c ${inner.text}`
}

const DISCOVER_PY = [
  'import json, django',
  'from django.conf import settings',
  'django.setup()',
  "print('DJANGO-SETTINGS ' + json.dumps({k: str(getattr(settings, k, '') or '') for k in ('STATIC_URL', 'STATIC_ROOT', 'MEDIA_URL', 'MEDIA_ROOT')}))"
].join('\n')

export function discoverStep(s: Settings, id: string): Step {
  return {
    id: 'discover',
    phase: 'django',
    title: "Read STATIC_* and MEDIA_* from the project's settings",
    privileged: true,
    command: asApp(s, id, sh`.venv/bin/python -c ${DISCOVER_PY}`)
  }
}

export interface DjangoPaths {
  staticUrl?: string
  staticRoot?: string
  mediaUrl?: string
  mediaRoot?: string
}

/** Reads the discovery output; values from the server are validated like inputs. */
export function parseDjangoPaths(stdout: string): DjangoPaths {
  const line = stdout.split('\n').find((l) => l.startsWith('DJANGO-SETTINGS '))
  if (!line) return {}
  const values = JSON.parse(line.slice('DJANGO-SETTINGS '.length)) as Record<string, string>
  const urlPrefix = (url: string) => {
    const withSlashes = `/${url.replace(/^\/+/, '').replace(/\/*$/, '/')}`
    return /^\/(?:[A-Za-z0-9_.~-]+\/)+$/.test(withSlashes) && !/\/\.\.?\//.test(withSlashes)
      ? withSlashes
      : undefined
  }
  const folder = (path: string) =>
    /^\/[A-Za-z0-9_.@+-]+(?:\/[A-Za-z0-9_.@+-]+)*\/?$/.test(path) && !/\/\.\.?(\/|$)/.test(path)
      ? path.replace(/\/$/, '')
      : undefined
  return {
    staticUrl: values.STATIC_URL ? urlPrefix(values.STATIC_URL) : undefined,
    staticRoot: values.STATIC_ROOT ? folder(values.STATIC_ROOT) : undefined,
    mediaUrl: values.MEDIA_URL ? urlPrefix(values.MEDIA_URL) : undefined,
    mediaRoot: values.MEDIA_ROOT ? folder(values.MEDIA_ROOT) : undefined
  }
}

/**
 * The nginx locations: inputs win over the project's settings. A folder inside the release is
 * served through `current`, so static files switch (and roll back) with the release.
 */
export function sitePaths(s: Settings, id: string, found: DjangoPaths): SitePaths {
  const release = paths(s).release(id)
  const viaCurrent = (folder?: string) =>
    folder && (folder === release || folder.startsWith(`${release}/`))
      ? paths(s).current + folder.slice(release.length)
      : folder
  return {
    staticUrl: s.staticUrl ?? found.staticUrl,
    staticRoot: s.staticRoot ?? viaCurrent(found.staticRoot),
    mediaUrl: s.mediaUrl ?? found.mediaUrl,
    mediaRoot: s.mediaRoot ?? viaCurrent(found.mediaRoot)
  }
}

export function djangoSteps(s: Settings, id: string, found: DjangoPaths): Step[] {
  const steps: Step[] = []
  const release = paths(s).release(id)
  // The folders Django itself writes to (the inputs only say where nginx serves from).
  const media = found.mediaRoot ?? s.mediaRoot
  if (media) {
    steps.push({
      id: 'media',
      phase: 'django',
      title: `Prepare the media folder ${media}`,
      privileged: true,
      // Group www-data with setgid: files the app writes stay readable by nginx.
      command: sh`mkdir -p ${media} && chown ${s.appUser}:www-data ${media} && chmod 2750 ${media}`
    })
  }
  if (s.migrate) {
    steps.push({
      id: 'migrate',
      phase: 'django',
      title: 'manage.py migrate --noinput',
      privileged: true,
      command: asApp(s, id, raw('python manage.py migrate --noinput'))
    })
  }
  const staticRoot = found.staticRoot
  if (s.collectstatic && staticRoot) {
    const inRelease = staticRoot.startsWith(`${release}/`)
    steps.push({
      id: 'collectstatic',
      phase: 'django',
      title: 'manage.py collectstatic --noinput',
      privileged: true,
      // The app writes its static files once, then they are frozen with the release.
      command: script(
        raw('set -eu'),
        sh`mkdir -p ${staticRoot} && chown -R ${s.appUser} ${staticRoot}`,
        asApp(s, id, raw('python manage.py collectstatic --noinput')),
        inRelease ? sh`chown -R root:root ${staticRoot}` : undefined,
        sh`chmod -R go+rX ${staticRoot}`
      )
    })
  }
  if (s.checkDeploy) {
    steps.push({
      id: 'check-deploy',
      phase: 'django',
      title: 'manage.py check --deploy --fail-level WARNING',
      privileged: true,
      command: asApp(s, id, raw('python manage.py check --deploy --fail-level WARNING'))
    })
  }
  if (s.preRestart) {
    steps.push({
      id: 'pre-restart',
      phase: 'django',
      title: 'pre-restart',
      privileged: true,
      command: asApp(s, id, raw(s.preRestart))
    })
  }
  return steps
}

// ---------------------------------------------------------------------------------------------
// The configuration: render, gate, install

export function configFiles(
  s: Settings,
  facts: HostFacts,
  site: SitePaths,
  found: DjangoPaths = {}
): ConfigFiles {
  const units = unitNames(s.projectName)
  // The sandbox lets the app write shared/ only; a MEDIA_ROOT elsewhere must be opened too.
  const media = found.mediaRoot
  const shared = paths(s).shared
  const writable = media && media !== shared && !media.startsWith(`${shared}/`) ? [media] : []
  return {
    socket: { path: `${UNIT_FOLDER}/${units.socket}`, text: renderSocket(s) },
    service: {
      path: `${UNIT_FOLDER}/${units.service}`,
      text: renderService(s, {
        appRoot: paths(s).current,
        workers: workerCount(s, facts),
        writable
      })
    },
    site: { path: `${SITE_AVAILABLE}/${s.projectName}`, text: renderSite(s, site) }
  }
}

function writeFile(path: string, text: string): ShellText {
  // base64 keeps any byte of the rendered text out of the shell's reach.
  return sh`printf %s ${Buffer.from(text).toString('base64')} | base64 -d > ${path}`
}

/** Gate 1: systemd-analyze verify on the new units, rendered to run the new release directly. */
export function verifyUnitsStep(s: Settings, id: string, files: ConfigFiles): Step {
  const folder = `${paths(s).state}/verify`
  const units = unitNames(s.projectName)
  const release = paths(s).release(id)
  // `current` does not point at the new release yet: verify the units as they will run it.
  const service = files.service.text.split(paths(s).current).join(release)
  return {
    id: 'verify-units',
    phase: 'gates',
    title: 'systemd-analyze verify',
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`rm -rf ${folder} && mkdir -p ${folder}`,
      writeFile(`${folder}/${units.socket}`, files.socket.text),
      writeFile(`${folder}/${units.service}`, service),
      sh`if ! out=$(systemd-analyze verify ${folder}/${units.socket} ${folder}/${units.service} 2>&1); then`,
      raw('  printf "%s\\n" "$out" >&2'),
      raw(`  exit ${GATE_FAILED}`),
      raw('fi'),
      // Warnings about other units on the host are not ours to fail on; show ours.
      sh`printf '%s\n' "$out" | grep -F ${units.service.replace(/\.service$/, '')} || true`
    )
  }
}

function backupFolder(s: Settings): string {
  return `${paths(s).state}/previous`
}

/** Shell that puts the files saved by `installConfigStep` back (used by the gate and rollback). */
function restoreConfig(s: Settings, files: ConfigFiles): ShellText {
  const backup = backupFolder(s)
  const link = `${SITE_ENABLED}/${s.projectName}`
  return script(
    ...[files.socket, files.service, files.site].map(({ path }) => {
      const saved = `${backup}/${path.split('/').pop()}`
      return sh`if [ -e ${saved} ]; then cp -p ${saved} ${path}; elif [ -e ${saved}.absent ]; then rm -f ${path}; fi`
    }),
    sh`if [ -e ${backup}/site-link.absent ]; then rm -f ${link}; fi`,
    sh`if [ -e ${backup}/default-link ]; then ln -sfn ${SITE_AVAILABLE}/default ${SITE_ENABLED}/default; fi`
  )
}

/**
 * Gate 2: save the live files, put the new ones in place and run `nginx -t`. nginx and systemd
 * read them only on reload, so the live site is untouched; on failure the saved files go back.
 */
export function installConfigStep(s: Settings, files: ConfigFiles): Step {
  const backup = backupFolder(s)
  const link = `${SITE_ENABLED}/${s.projectName}`
  const catchAll = s.serverNames.length === 1 && s.serverNames[0] === '_'
  const all = [files.socket, files.service, files.site]
  return {
    id: 'nginx-t',
    phase: 'gates',
    title: 'nginx -t with the new site',
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`rm -rf ${backup} && mkdir -p ${backup}`,
      ...all.map(({ path }) => {
        const saved = `${backup}/${path.split('/').pop()}`
        return sh`if [ -e ${path} ]; then cp -p ${path} ${saved}; else : > ${saved}.absent; fi`
      }),
      sh`[ -L ${link} ] || : > ${backup}/site-link.absent`,
      sh`restore() {`,
      restoreConfig(s, files),
      raw('}'),
      sh`changed=""`,
      ...all.map(({ path, text }) =>
        script(
          writeFile(`${path}.new`, text),
          sh`if ! cmp -s ${path}.new ${path}; then changed="$changed ${path.split('/').pop() ?? ''}"; fi`,
          sh`chmod 644 ${path}.new && mv -f ${path}.new ${path}`
        )
      ),
      sh`ln -sfn ${files.site.path} ${link}`,
      // Debian's welcome site is also a default server: the catch-all `_` takes its place.
      catchAll
        ? sh`if [ -L ${SITE_ENABLED}/default ]; then rm -f ${SITE_ENABLED}/default; : > ${backup}/default-link; fi`
        : undefined,
      raw('if ! out=$(nginx -t 2>&1); then'),
      raw('  restore'),
      raw('  printf "%s\\n" "$out" >&2'),
      raw(`  exit ${GATE_FAILED}`),
      raw('fi'),
      raw('echo "changed=$changed"')
    )
  }
}

// ---------------------------------------------------------------------------------------------
// Switch, restart, health

/** nginx's workers by pid: a reload is applied once none of the old ones serves any more. */
const nginxWorkers = raw(
  [
    'nginx_workers() {',
    '  for p in /proc/[0-9]*; do',
    `    case "$(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null)" in`,
    "      'nginx: worker process is shutting down'*) ;;",
    `      'nginx: worker process'*) echo "\${p#/proc/}" ;;`,
    '    esac',
    '  done | sort',
    '}'
  ].join('\n')
)

/**
 * `systemctl reload nginx` returns before the new configuration serves; waiting for the old
 * workers keeps the health check from being answered by the old site.
 */
const reloadNginx = script(
  nginxWorkers,
  raw('if systemctl is-active --quiet nginx; then'),
  raw('  before=$(nginx_workers); systemctl reload nginx'),
  raw('  for i in $(seq 1 100); do'),
  raw('    still=$(printf "%s\\n" $before $(nginx_workers) | sort | uniq -d)'),
  raw('    [ -z "$still" ] && break; sleep 0.1'),
  raw('  done'),
  raw('else systemctl start nginx; fi')
)

export function switchStep(s: Settings, id: string, restartSocket: boolean): Step {
  const p = paths(s)
  const units = unitNames(s.projectName)
  return {
    id: 'switch',
    phase: 'restart',
    title: `Switch current to ${id}, restart gunicorn, reload nginx`,
    privileged: true,
    command: script(
      raw('set -eu'),
      // A new link renamed over the old one: `current` is never missing, not even for a moment.
      sh`ln -sfn releases/${id} ${s.deployPath}/.current.new && mv -T ${s.deployPath}/.current.new ${p.current}`,
      raw('systemctl daemon-reload'),
      sh`systemctl enable --quiet ${units.socket} ${units.service}`,
      // The socket stays open across a service restart so requests wait instead of failing;
      // only a changed socket file needs the socket itself restarted.
      restartSocket
        ? sh`systemctl stop ${units.service} ${units.socket} 2>/dev/null || true; rm -f ${socketPath(s.projectName)}; systemctl start ${units.socket}`
        : sh`systemctl start ${units.socket}`,
      sh`systemctl restart ${units.service} || echo "gunicorn did not start; the health check will tell" >&2`,
      reloadNginx
    )
  }
}

const HEALTH_PY = `
import http.client, ssl, sys, time
host, port, path, header, tls, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == 'tls', float(sys.argv[6])
ranges = [tuple(map(int, r.split('-'))) for r in sys.argv[7].split(',')]
start = time.monotonic(); status = 0; detail = ''
while True:
    try:
        if tls:
            conn = http.client.HTTPSConnection(host, port, timeout=5, context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request('GET', path, headers={'Host': header, 'User-Agent': 'django-deploy-action health check'})
        status = conn.getresponse().status; detail = ''
        conn.close()
    except Exception as error:
        status = 0; detail = str(error)
    elapsed = int((time.monotonic() - start) * 1000)
    if any(lo <= status <= hi for lo, hi in ranges):
        print('healthy', status, elapsed); sys.exit(0)
    if elapsed >= timeout * 1000:
        print('unhealthy', status, elapsed, detail); sys.exit(1)
    time.sleep(0.25)
`

export interface HealthResult {
  healthy: boolean
  status: number
  durationMs: number
  detail: string
}

/** Requests health-path through nginx on the host until a healthy status or health-timeout. */
export function healthStep(s: Settings, timeoutMs = s.healthTimeoutMs): Step {
  const tls = !!s.tlsCertificate
  const port = tls ? (s.listen.port === 80 ? 443 : s.listen.port) : s.listen.port
  const address =
    !s.listen.address || /^(0\.0\.0\.0|\[::\])$/.test(s.listen.address)
      ? '127.0.0.1'
      : s.listen.address.replace(/^\[|\]$/g, '')
  const ranges = s.healthExpect.map((r) => `${r.min}-${r.max}`).join(',')
  return {
    id: 'health',
    phase: 'health',
    title: `GET ${s.healthPath} through nginx (Host: ${healthHost(s)})`,
    privileged: false,
    command: sh`${s.python} -c ${HEALTH_PY} ${address} ${port} ${s.healthPath} ${healthHost(s)} ${tls ? 'tls' : 'plain'} ${timeoutMs / 1000} ${ranges}`
  }
}

export function parseHealth(stdout: string): HealthResult {
  const line = stdout.trim().split('\n').pop() ?? ''
  const [verdict, status, elapsed, ...detail] = line.split(' ')
  return {
    healthy: verdict === 'healthy',
    status: Number(status) || 0,
    durationMs: Number(elapsed) || 0,
    detail: detail.join(' ')
  }
}

const ERRORS_HEADER = '--- errors in the journal'

/** The exception lines the diagnostics found, e.g. `ImportError: cannot import name ...`. */
export function parseErrors(diagnostics: string): string[] {
  const lines = diagnostics.split('\n')
  const start = lines.indexOf(ERRORS_HEADER)
  if (start < 0) return []
  const end = lines.findIndex((line, i) => i > start && line.startsWith('--- '))
  return lines.slice(start + 1, end < 0 ? undefined : end).filter((line) => line.trim() !== '')
}

export function diagnosticsStep(s: Settings): Step {
  const units = unitNames(s.projectName)
  return {
    id: 'diagnostics',
    phase: 'health',
    title: "Collect the service's journal and nginx's error log",
    privileged: true,
    command: script(
      // The exception that stopped the app is usually above gunicorn's own traceback.
      raw(`echo '${ERRORS_HEADER}'`),
      sh`journalctl -u ${units.service} -n 400 --no-pager -o cat 2>/dev/null | grep -E '^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception)(: |$)' | grep -v '^gunicorn\.errors\.' | awk '!seen[$0]++' | tail -n 5 || true`,
      sh`echo "--- journalctl -u ${units.service} (last 40 lines)"`,
      sh`journalctl -u ${units.service} -n 40 --no-pager -o short-iso 2>&1 || true`,
      raw('echo "--- /var/log/nginx/error.log (last 15 lines)"'),
      raw('tail -n 15 /var/log/nginx/error.log 2>&1 || true')
    )
  }
}

// ---------------------------------------------------------------------------------------------
// Rollback and clean-up

/** Puts the previous release and its files back after an unhealthy deploy. */
export function markFailedStep(s: Settings, id: string): Step {
  return {
    id: 'mark-failed',
    phase: 'cleanup',
    title: `Mark ${id} as failed (kept for inspection until pruned)`,
    privileged: true,
    command: sh`: > ${paths(s).release(id)}/${FAILED_MARK}`
  }
}

export function rollbackStep(s: Settings, previous: string, files: ConfigFiles): Step {
  const p = paths(s)
  const units = unitNames(s.projectName)
  return {
    id: 'rollback',
    phase: 'health',
    title: `Roll back to ${previous || 'nothing'}`,
    privileged: true,
    command: script(
      raw('set -eu'),
      restoreConfig(s, files),
      previous
        ? sh`ln -sfn releases/${previous} ${s.deployPath}/.current.new && mv -T ${s.deployPath}/.current.new ${p.current}`
        : sh`rm -f ${p.current}`,
      raw('systemctl daemon-reload'),
      previous
        ? sh`systemctl restart ${units.service} || true`
        : sh`systemctl disable --now ${units.service} ${units.socket} 2>/dev/null || true`,
      reloadNginx
    )
  }
}

/** Removes old releases: keeps `keep` newest, and never the live or the previous one. */
export function pruneStep(s: Settings, keep: number, live: string, previous: string): Step {
  const p = paths(s)
  return {
    id: 'prune',
    phase: 'cleanup',
    title: `Keep the ${keep} newest releases`,
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`cd ${p.releases}`,
      sh`ls -1 | sort -r | tail -n +${keep + 1} | while read -r release; do`,
      sh`  if [ "$release" != ${live} ] && [ "$release" != ${previous || '-'} ]; then rm -rf -- "$release"; echo "removed $release"; fi`,
      raw('done'),
      // A kept venv goes with the last release that links to it.
      sh`if [ -d ${p.venvs} ]; then`,
      sh`  used=$(for r in */; do readlink "$r.venv" 2>/dev/null; done)`,
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

export function postDeployStep(s: Settings, id: string): Step {
  return {
    id: 'post-deploy',
    phase: 'cleanup',
    title: 'post-deploy',
    privileged: true,
    command: asApp(s, id, raw(s.postDeploy))
  }
}

/** Reads the live files for the dry run's diff; a missing file prints a marker. */
export function readConfigStep(files: ConfigFiles): Step {
  return {
    id: 'read-config',
    phase: 'gates',
    title: 'Read the live units and site',
    privileged: true,
    command: script(
      ...[files.socket, files.service, files.site].map(
        ({ path }) =>
          sh`echo ${`=== ${path}`}; if [ -e ${path} ]; then base64 -w0 < ${path}; fi; echo`
      )
    )
  }
}

export function parseConfigFiles(stdout: string): Map<string, string | undefined> {
  const found = new Map<string, string | undefined>()
  const lines = stdout.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('=== ')) continue
    const body = lines[i + 1] ?? ''
    found.set(lines[i].slice(4), body === '' ? undefined : Buffer.from(body, 'base64').toString())
  }
  return found
}

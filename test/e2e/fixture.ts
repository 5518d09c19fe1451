// The sample projects as a user's workspace, the inputs a user would write for a test host, and
// what a run shows a person (annotations, the summary's first lines).
import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './action.js'
import type { TestHost } from './testhost.js'

/** A fresh copy of test/fixtures/mysite in a workspace of its own, at the given VERSION. */
export function workspaceWith(version: string): { workspace: string; project: string } {
  const workspace = mkdtempSync(join(tmpdir(), 'dda-workspace-'))
  const project = join(workspace, 'mysite')
  cpSync(join(ROOT, 'test/fixtures/mysite'), project, { recursive: true })
  writeFileSync(join(project, 'VERSION'), `${version}\n`)
  return { workspace, project }
}

/**
 * A fresh copy of the repository test/fixtures/<fixture> as actions/checkout leaves it: the
 * workspace itself, with the given VERSION written at `versionFile`.
 */
export function checkout(fixture: string, version: string, versionFile = 'VERSION'): string {
  const workspace = mkdtempSync(join(tmpdir(), `dda-${fixture}-`))
  cpSync(join(ROOT, 'test/fixtures', fixture), workspace, { recursive: true })
  writeFileSync(join(workspace, versionFile), `${version}\n`)
  return workspace
}

/**
 * The environment of a run of a commit of its own (GITHUB_SHA): a release id names the second
 * and the commit, and runs that fail fast may follow each other within a second.
 */
export function newCommit(): Record<string, string> {
  return { GITHUB_SHA: randomBytes(20).toString('hex') }
}

/** Edits a file of the copied project. */
export function edit(project: string, file: string, change: (text: string) => string): void {
  const path = join(project, file)
  writeFileSync(path, change(readFileSync(path, 'utf8')))
}

/** Code after this runs only in a gunicorn worker (`python -m gunicorn`), never in the Django process. */
export const UNDER_GUNICORN = "import sys\nif 'gunicorn' in sys.argv[0]:\n"

/**
 * A release whose wsgi.py fails to import in gunicorn's workers only: the Django process's own
 * import (before migrate) succeeds, so it is the new instance's check that fails.
 */
export function breakUnderGunicorn(project: string): void {
  edit(
    project,
    'mysite/wsgi.py',
    (text) => `${text}\n${UNDER_GUNICORN}    from os import no_such_name\n`
  )
}

export function deployInputs(
  host: TestHost,
  overrides: Record<string, string> = {},
  user: 'root' | 'deploy' = 'root'
): Record<string, string> {
  return {
    host: host.address,
    username: user,
    key: readFileSync(host.keys.ed25519, 'utf8'),
    'known-hosts': host.knownHosts,
    'project-name': 'mysite',
    source: 'mysite',
    // The test hosts have no PyPI: Django and gunicorn come from Debian's packages.
    'system-site-packages': 'true',
    'health-path': '/healthz',
    'health-timeout': '30',
    deployment: 'false',
    ...overrides
  }
}

/** GET through nginx on the host's own address, as a visitor would (any Host header). */
export function get(
  host: TestHost,
  path: string,
  headers: Record<string, string> = {}
): Promise<{ status: number; text: string; headers: Map<string, string> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: host.address, port: 80, path, headers, timeout: 10000 },
      (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => (text += chunk.toString()))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text,
            headers: new Map(Object.entries(res.headers).map(([k, v]) => [k, String(v)]))
          })
        )
      }
    )
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

export async function health(
  host: TestHost
): Promise<{ status: string; release: string; version: string; env: string | null }> {
  const page = await get(host, '/healthz')
  if (page.status !== 200)
    throw new Error(`/healthz answered ${page.status}: ${page.text.slice(0, 300)}`)
  return JSON.parse(page.text)
}

/** Requests a path over and over while `during` runs; returns every status seen. */
export async function watch<T>(
  host: TestHost,
  path: string,
  during: Promise<T>
): Promise<{ result: T; statuses: number[] }> {
  const statuses: number[] = []
  let done = false
  const loop = (async () => {
    while (!done) {
      try {
        statuses.push((await get(host, path)).status)
      } catch {
        statuses.push(0)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  const result = await during.finally(() => (done = true))
  await loop
  return { result, statuses }
}

/** sha256 of every file under the given folders on the host, to prove nothing changed. */
export async function checksums(host: TestHost, folders: string[]): Promise<string> {
  const result = await host.exec(
    `find ${folders.join(' ')} \\( -type f -o -type l \\) -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum 2>&1; find ${folders.join(' ')} -type l -printf '%p -> %l\\n' 2>/dev/null | sort`
  )
  return result.stdout
}

/**
 * Content, owner and mode of everything root owns outside the deploy path that matters, and the
 * owner and mode of nginx's logs (their content grows with every request). Which instance (blue
 * or green) is enabled, and the boot-time link to it, are the deploy's own: they alternate. With
 * `siteMayChange`, the content of the project's nginx site is not compared: a deploy whose
 * settings moved STATIC_ROOT writes another one, its owner and mode still are.
 */
export async function systemState(
  host: TestHost,
  project: string,
  options: { siteMayChange?: boolean } = {}
): Promise<string> {
  const folders = '/etc /root /usr/local /opt /var/www /var/lib/dpkg'
  const state = await onHost(
    host,
    `find ${folders} -xdev \\( -type f -o -type l -o -type d \\) -printf '%p %u:%g %m %l\\n' 2>/dev/null | sort; ` +
      `find ${folders} -xdev -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum; ` +
      `stat -c '%n %U:%G %a' /var/log/nginx /var/log/nginx/access.log /var/log/nginx/error.log 2>&1`
  )
  const instance = new RegExp(`gunicorn-${project}@(?:blue|green)\\.`, 'g')
  const boot = new RegExp(`^[0-9a-f]{64} {2}/etc/tmpfiles\\.d/gunicorn-${project}\\.conf$`, 'm')
  const site = new RegExp(`^[0-9a-f]{64} {2}/etc/nginx/sites-available/${project}$`, 'm')
  const normal = state
    .replace(instance, `gunicorn-${project}@INSTANCE.`)
    .replace(boot, 'INSTANCE LINK')
  return options.siteMayChange ? normal.replace(site, 'SITE') : normal
}

/** Files outside the deploy path (and the kernel's and systemd's own) that the app user owns. */
export async function appOwnedOutside(host: TestHost, project: string): Promise<string> {
  return onHost(
    host,
    `find / -xdev -user ${project} -not -path '/srv/${project}/*' -not -path '/proc/*' -not -path '/sys/*' ` +
      "-not -path '/run/*' -not -path '/tmp/*' -not -path '/var/tmp/*' 2>/dev/null || true"
  )
}

export interface Annotation {
  title: string
  message: string
}

/** The annotations of one kind a run printed (`::error title=...::message`), decoded. */
export function annotations(stdout: string, kind: 'error' | 'warning' | 'notice'): Annotation[] {
  const decode = (text: string) =>
    text
      .replace(/%0D/g, '\r')
      .replace(/%0A/g, '\n')
      .replace(/%3A/g, ':')
      .replace(/%2C/g, ',')
      .replace(/%25/g, '%')
  return stdout.split('\n').flatMap((line) => {
    const match = new RegExp(`^::${kind}(?: (.*?))?::(.*)$`).exec(line)
    if (!match) return []
    const title = /(?:^|,)title=([^,]*)/.exec(match[1] ?? '')?.[1] ?? ''
    return [{ title: decode(title), message: decode(match[2]) }]
  })
}

/**
 * The lines a person reads first in the job summary: those under the heading of the first host
 * that did not succeed (the cause in bold, what the action did, what to do next), as plain text.
 */
export function summaryCause(summary: string): string[] {
  const lines = summary.split('\n')
  const start = lines.findIndex((line) => /^### \S+ .*: (failure|rolled-back)$/.test(line))
  if (start < 0) return []
  const end = lines.findIndex((line, i) => i > start + 1 && line.trim() === '')
  return lines.slice(start + 2, end < 0 ? undefined : end).map((line) =>
    line
      .replace(/ {2}$/, '')
      .replace(/^\*\*(.*)\*\*$/, '$1')
      .replace(/\\(.)/g, '$1')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
  )
}

/** Runs a command on the host as root; its output, or an error naming the command and exit. */
export async function onHost(host: TestHost, cmd: string): Promise<string> {
  const result = await host.exec(cmd)
  if (result.code !== 0) throw new Error(`${cmd} failed (exit ${result.code}): ${result.stderr}`)
  return result.stdout
}

/** The gunicorn instance traffic goes to (gunicorn-mysite@blue.service or @green): nginx's socket link names it. */
export async function liveService(host: TestHost, project = 'mysite'): Promise<string> {
  const link = (await host.exec(`readlink /run/gunicorn-${project}.sock`)).stdout.trim()
  const instance = /@(blue|green)\.sock$/.exec(link)?.[1]
  if (!instance) throw new Error(`/run/gunicorn-${project}.sock leads to no instance: '${link}'`)
  return `gunicorn-${project}@${instance}.service`
}

/**
 * `systemctl is-active UNITS` once no unit is still stopping (the deploy tells the drained
 * instance to stop and does not wait), or after 10 s whatever it says then.
 */
export async function activeStates(host: TestHost, units: string): Promise<string> {
  const cmd =
    `for i in $(seq 1 100); do systemctl is-active ${units} | grep -qx deactivating || break; sleep 0.1; done; ` +
    `systemctl is-active ${units}; true`
  return (await host.exec(cmd)).stdout.trim()
}

/**
 * sshd's log lines (their messages) after a journal cursor. Picked out here, not by
 * `journalctl -t sshd`: with a match, --after-cursor skips the first matching entry when the
 * cursor's own entry is not one (another unit's line, such as a drained instance's stop).
 */
export async function sshdLinesAfter(host: TestHost, cursor: string): Promise<string[]> {
  const quoted = `'${cursor.replace(/'/g, `'\\''`)}'`
  const result = await host.exec(
    `journalctl --sync; journalctl --after-cursor=${quoted} --no-pager -q -o short-iso`
  )
  if (result.code !== 0) throw new Error(`journalctl failed on ${host.name}: ${result.stderr}`)
  return result.stdout
    .split('\n')
    .flatMap((line) => /^\S+ \S+ sshd\[\d+\]: (.*)$/.exec(line)?.[1] ?? [])
}

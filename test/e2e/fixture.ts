// The sample project as a user's workspace, and the inputs a user would write for a test host.
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

/** Edits a file of the copied project. */
export function edit(project: string, file: string, change: (text: string) => string): void {
  const path = join(project, file)
  writeFileSync(path, change(readFileSync(path, 'utf8')))
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

// remove: the inputs read, the steps as data (quoted, the data kept without force), the listing
// read back (a dry run's paths), the flow over a scripted transport (the order, the gate, the
// audit line), the summary, and the GitHub deployments marked inactive (requests checked against
// GitHub's OpenAPI description).

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PassThrough } from 'node:stream'
import { jest } from '@jest/globals'
import { auditEntry, operationHost, runContext } from '../src/main.js'
import type { RunOptions, RunResult, Transport } from '../src/remote/connection.js'
import { markDeploymentsInactive } from '../src/report/deployment.js'
import { operationMarkdown } from '../src/report/operation.js'
import type { HostReport } from '../src/report/report.js'
import { boundaryOps } from '../src/server/boundary.js'
import { lockCommand } from '../src/server/lock.js'
import {
  parseRemoved,
  parseRemoveListing,
  parseWouldRemove,
  removedEntries,
  removeFilesStep,
  removeListStep,
  removeSteps,
  type RemoveListing
} from '../src/server/remove.js'
import type { Settings } from '../src/settings.js'
import type { ShellText } from '../src/shell.js'
import { startGitHubServer } from '../test/contract/github-server.js'
import { githubApi } from '../test/contract/openapi.js'
import { logOf } from './printed.js'
import { refusalOf, settingsFor, readInputs } from './settings-fixture.js'

const dir = mkdtempSync(join(tmpdir(), 'dda-remove-'))
writeFileSync(join(dir, 'manage.py'), '')

const read = (overrides: Record<string, string>): Settings => readInputs({ ...overrides }, dir)

const removal = (force = false, overrides: Partial<Settings> = {}) =>
  settingsFor({ operation: { kind: 'remove', force }, ...overrides })

describe('the remove inputs', () => {
  test('remove: true is the operation; force goes with it; false is a deploy', () => {
    expect(read({ remove: 'true' }).operation).toEqual({ kind: 'remove', force: false })
    expect(read({ remove: 'true', force: 'true' }).operation).toEqual({
      kind: 'remove',
      force: true
    })
    expect(read({ remove: 'false' }).operation).toEqual({ kind: 'deploy' })
  })

  test('remove with manage or rollback is refused, naming both', () => {
    const manage = refusalOf(() => read({ remove: 'true', manage: 'migrate' }), {})
    expect(manage.input).toBe('remove')
    expect(manage.message).toMatch(/manage is another/)
    const rollback = refusalOf(() => read({ remove: 'true', rollback: 'true', source: 'none' }), {})
    expect(rollback.input).toBe('remove')
    expect(rollback.message).toMatch(/rollback: true is another/)
  })

  test("the audit line's argument: remove, or remove --force", () => {
    expect(auditEntry(removal(), runContext({}))).toMatchObject({
      mode: 'remove',
      argument: 'remove'
    })
    expect(auditEntry(removal(true, { dryRun: true }), runContext({}))).toMatchObject({
      mode: 'remove (dry run)',
      argument: 'remove --force'
    })
  })
})

const LISTED = [
  'unit gunicorn-mysite@.socket',
  'unit gunicorn-mysite@.service',
  'unit mysite-worker.service',
  'unit mysite-nightly.timer',
  'unit mysite-nightly.service',
  'unit certbot-renew-mysite.timer',
  'file /etc/nginx/sites-enabled/mysite',
  'file /etc/nginx/sites-available/mysite',
  'file /etc/tmpfiles.d/gunicorn-mysite.conf',
  'file /run/gunicorn-mysite.sock',
  'certificate',
  'user',
  'entry .deploy',
  'entry .deploy.lock',
  'entry .deploy.steps',
  'entry backups',
  'entry current',
  'entry releases',
  'entry shared',
  'entry venvs'
].join('\n')

describe('the listing read back', () => {
  test("units, files, the certificate, the user and the entries; the lock's files are none", () => {
    const listing = parseRemoveListing(removal(), LISTED)
    expect(listing.units).toHaveLength(6)
    expect(listing.files).toContain('/etc/nginx/sites-available/mysite')
    expect(listing.certificate).toBe(true)
    expect(listing.user).toBe(true)
    expect(listing.entries).toEqual([
      '.deploy',
      'backups',
      'current',
      'releases',
      'shared',
      'venvs'
    ])
  })

  test("what the host may not say is not taken: an odd unit name, a file not the project's", () => {
    const listing = parseRemoveListing(
      removal(),
      'unit x; rm -rf /\nunit ../../etc/passwd\nfile /etc/passwd\nfile /etc/nginx/sites-available/other\n'
    )
    expect(listing.units).toEqual([])
    expect(listing.files).toEqual([])
  })

  test("a dry run's paths, each a JSON string, read back whatever the names hold", () => {
    const paths = parseWouldRemove(
      'would-remove "releases/r1/"\nwould-remove "releases/r1/a b\\nunit evil.service"\nwould-remove "venvs/k/bin/python"\nunit evil.service\n'
    )
    expect(paths).toEqual([
      'releases/r1/',
      'releases/r1/a b\nunit evil.service',
      'venvs/k/bin/python'
    ])
  })

  test("what goes: the action's entries; with force the data and what the app owns, never another's", () => {
    const listed = {
      entries: [
        '.deploy',
        'backups',
        'current',
        'media',
        'other-site',
        'releases',
        'shared',
        'venvs'
      ],
      appEntries: ['media']
    }
    expect(removedEntries({ kind: 'remove', force: false }, listed)).toEqual([
      'current',
      'releases',
      'venvs'
    ])
    expect(removedEntries({ kind: 'remove', force: true }, listed)).toEqual([
      'backups',
      'current',
      'media',
      'releases',
      'shared',
      'venvs'
    ])
  })

  test("the dry run's walk goes through the boundary, removing nothing; the listing walks nothing", () => {
    const s = removal(false, { dryRun: true })
    const ops = boundaryOps(removeFilesStep(s, ['releases', 'venvs'], true).command.text)
    expect(ops).toEqual([
      { op: 'remove', path: '/srv/mysite', names: ['releases', 'venvs'], say: true, dryRun: true },
      { op: 'remove', path: '/srv/mysite', names: ['.deploy'], say: true, dryRun: true }
    ])
    expect(boundaryOps(removeListStep(s).command.text)).toEqual([])
  })
})

describe('the remove steps', () => {
  const listing = (s: Settings): RemoveListing => parseRemoveListing(s, LISTED)

  test('in order: the site behind the gate, the units, the files; force: the certificate and the user', () => {
    const s = removal()
    expect(removeSteps(s, { kind: 'remove', force: false }, listing(s)).map((x) => x.id)).toEqual([
      'remove-site',
      'remove-units',
      'remove-files'
    ])
    const f = removal(true)
    expect(removeSteps(f, { kind: 'remove', force: true }, listing(f)).map((x) => x.id)).toEqual([
      'remove-site',
      'remove-units',
      'remove-files',
      'remove-certificate',
      'remove-user'
    ])
    for (const step of removeSteps(f, { kind: 'remove', force: true }, listing(f)))
      expect(step.privileged).toBe(true)
  })

  test('without force shared/ and backups/ are kept; with force only the lock files, which the lock removes', () => {
    const kept = (force: boolean) => {
      const s = removal(force)
      const files = removeSteps(s, { kind: 'remove', force }, listing(s)).find(
        (x) => x.id === 'remove-files'
      )!
      return boundaryOps(files.command.text)
    }
    expect(kept(false)).toEqual([
      { op: 'remove', path: '/srv/mysite', names: ['current', 'releases', 'venvs'], say: true },
      { op: 'remove', path: '/srv/mysite', names: ['.deploy'], say: true }
    ])
    expect(kept(true)[0]).toMatchObject({
      names: ['backups', 'current', 'releases', 'shared', 'venvs']
    })
  })

  test('the site is put back when nginx -t fails, and nginx is reloaded only when it passes', () => {
    const s = removal()
    const site = removeSteps(s, { kind: 'remove', force: false }, listing(s))[0].command.text
    const gate = site.indexOf('nginx -t')
    expect(site.indexOf('mv -f /etc/nginx/sites-available/mysite "$saved/site"')).toBeLessThan(gate)
    expect(site.indexOf('mv -f "$saved/site" /etc/nginx/sites-available/mysite')).toBeGreaterThan(
      gate
    )
    expect(site.indexOf('exit 42')).toBeGreaterThan(gate)
    expect(site.indexOf('systemctl reload nginx')).toBeGreaterThan(site.indexOf('exit 42'))
  })

  test('the units: the template by its instances, timers and sockets first, their files and links gone', () => {
    const s = removal()
    const units = removeSteps(s, { kind: 'remove', force: false }, listing(s))[1].command.text
    expect(units).toContain(
      "for unit in certbot-renew-mysite.timer 'gunicorn-mysite@blue.socket' 'gunicorn-mysite@green.socket' mysite-nightly.timer 'gunicorn-mysite@blue.service'"
    )
    expect(units).toContain("'/etc/systemd/system/gunicorn-mysite@.service'")
    expect(units).toContain('/run/systemd/system/mysite-worker.service')
    expect(units).toContain('systemctl daemon-reload')
    expect(units).toContain(
      'rm -f -- /etc/tmpfiles.d/gunicorn-mysite.conf /run/gunicorn-mysite.sock'
    )
    expect(units).not.toContain('sites-available')
  })

  test('a project name that needs quoting is one word everywhere', () => {
    const s = removal(true, { projectName: 'my site', appUser: "o'neil" })
    const listed = parseRemoveListing(
      s,
      'file /etc/nginx/sites-available/my site\nuser\nentry releases\n'
    )
    const text = removeSteps(s, { kind: 'remove', force: true }, listed)
      .map((x) => x.command.text)
      .join('\n')
    expect(text).toContain("mv -f '/etc/nginx/sites-available/my site'")
    expect(text).toContain(`userdel -- "o'neil"`)
  })

  test('the files step prints each entry removed and its count, read back', () => {
    expect(parseRemoved('removed "releases" 1234\nremoved ".deploy" 9\nnoise\n')).toEqual([
      { name: 'releases', count: 1234 },
      { name: '.deploy', count: 9 }
    ])
  })

  test('the lock of a remove: the line to the journal too, the lock files and an empty deploy path removed once .deploy/ is gone', () => {
    const entry = auditEntry(removal(), runContext({}))
    const text = lockCommand(removal(), 'holder', 10, undefined, entry).text
    expect(text).toContain('logger -t django-deploy-mysite -- "$line"')
    expect(text).not.toContain('mkdir -m 700 /srv/mysite/.deploy')
    expect(text).toContain(
      'if [ -d /srv/mysite/.deploy ]; then : > /srv/mysite/.deploy.lock; else rm -f /srv/mysite/.deploy.lock /srv/mysite/.deploy.steps; rmdir /srv/mysite'
    )
    const deploy = lockCommand(settingsFor(), 'holder', 10, undefined, entry).text
    expect(deploy).not.toContain('logger')
    expect(deploy).not.toContain('rm -f /srv/mysite/.deploy.lock')
  })
})

type Answer = Partial<RunResult>

/** Answers each step by its id; records what ran and what the lock was told as it let go. */
class ScriptedTransport implements Transport {
  readonly ran: string[] = []
  told = ''
  constructor(private readonly answers: Record<string, Answer>) {}

  async run(command: ShellText, options: RunOptions = {}): Promise<RunResult> {
    const step = options.step?.id ?? '?'
    this.ran.push(step)
    if (step === 'lock') {
      const first = Buffer.from('cpus=2\npython=3.11.2 /usr/bin/python3\nlive=\nreleases=\n')
      options.onStdout?.(Buffer.from(`STALE \nLOCKED\nTHEN 0 ${first.length} 0\n`))
      options.onStdout?.(first)
      const stdin = options.stdin as PassThrough
      stdin.on('data', (chunk: Buffer) => (this.told += chunk.toString()))
      await new Promise((resolve) => stdin.on('end', resolve))
      return { code: 0, stdout: '', stderr: '', durationMs: 1 }
    }
    return { code: 0, stdout: '', stderr: '', durationMs: 1, ...this.answers[step] }
  }

  close(): void {}
}

async function operate(s: Settings, answers: Record<string, Answer>) {
  const transport = new ScriptedTransport(answers)
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
  try {
    const report = await operationHost(s, s.hosts[0], runContext({}), async () => transport)
    return { report, transport }
  } finally {
    spy.mockRestore()
  }
}

describe('a remove on a host', () => {
  test('lists, then removes in order; the summary says what went and what stayed', async () => {
    const s = removal()
    const { report, transport } = await operate(s, {
      'remove-list': { stdout: LISTED },
      'remove-files': {
        stdout: 'removed "current" 1\nremoved "releases" 812\nremoved ".deploy" 7\n'
      }
    })
    expect(transport.ran).toEqual([
      'lock',
      'remove-list',
      'remove-site',
      'remove-units',
      'remove-files'
    ])
    expect(report.status).toBe('success')
    expect(transport.told).toContain('mode="remove" argument="remove" result="success"')
    const summary = operationMarkdown(s, [report])
    expect(summary).toContain('## ✅ remove on mysite: success')
    expect(summary).toContain(
      'Removed: 6 units, 4 site and runtime files, 3 entries of the deploy path (820 paths).'
    )
    expect(summary).toContain('Kept: `/srv/mysite/backups/`, `/srv/mysite/shared/`')
    expect(summary).toMatch(/the app user: \S+: kept \(it owns the data/)
    expect(summary).toContain('<details><summary>Removed on app1.example.com</summary>')
    expect(summary).toContain('releases (812 paths)')
  })

  test('force: the user kept when another unit runs as it, and the summary says which', async () => {
    const s = removal(true)
    const { report, transport } = await operate(s, {
      'remove-list': { stdout: LISTED },
      'remove-user': { stdout: 'user-kept other-web.service \n' }
    })
    expect(transport.ran.slice(-2)).toEqual(['remove-certificate', 'remove-user'])
    const summary = operationMarkdown(s, [report])
    expect(summary).toContain('Kept: no data')
    expect(summary).toContain('kept, since other units run as it (other-web.service)')
    expect(summary).toContain('the certificate')
  })

  test("nginx -t failing without the site: the host fails saying why, nothing after the site's step runs", async () => {
    const s = removal()
    const { report, transport } = await operate(s, {
      'remove-list': { stdout: LISTED },
      'remove-site': { code: 42, stderr: 'nginx: [emerg] host not found in upstream "x"\n' }
    })
    expect(transport.ran).toEqual(['lock', 'remove-list', 'remove-site'])
    expect(report.status).toBe('failure')
    expect(report.message.split('\n')[0]).toBe('nginx: [emerg] host not found in upstream "x"')
    expect(report.message).toContain('its files were put back and nginx was not reloaded')
    expect(transport.told).toContain('result="failure"')
  })

  test('nothing of the project on the host: success, saying so; nothing removed', async () => {
    const s = removal(true)
    const { report, transport } = await operate(s, {
      'remove-list': { stdout: 'entry .deploy.lock\nentry .deploy.steps\n' }
    })
    expect(transport.ran).toEqual(['lock', 'remove-list'])
    expect(report.status).toBe('success')
    expect(report.message).toBe('nothing of mysite on app1.example.com')
  })

  test('a dry run lists file by file, removes nothing, and its summary folds the list, escaped', async () => {
    const s = removal(false, { dryRun: true })
    const transport = new ScriptedTransport({
      'remove-list': { stdout: LISTED },
      'remove-walk': {
        stdout:
          'would-remove "releases/"\nwould-remove "releases/r1/<img src=x>.py"\n' +
          'would-remove "releases/r1/x\\n::error title=pwned::y"\nwould-remove ".deploy/"\n'
      }
    })
    let report: HostReport | undefined
    const log = await logOf(async () => {
      report = await operationHost(s, s.hosts[0], runContext({}), async () => transport)
    })
    expect(transport.ran).toEqual(['lock', 'remove-list', 'remove-walk'])
    expect(report!.status).toBe('success')
    expect(report!.message).toMatch(/^dry run: would remove 14 paths .* nothing was changed$/)
    // A name the repository chose is printed as the server's text: never read as a command.
    const outside = log.replace(/^::stop-commands::(\S+)\n[\s\S]*?^::\1::\n/gm, '')
    expect(log).toContain('\n::error title=pwned::y\n')
    expect(outside).not.toContain('::error')
    const summary = operationMarkdown(s, [report!])
    expect(summary).toContain('(dry run)')
    expect(summary).toContain('Would remove: 6 units')
    expect(summary).toContain('releases (3 paths)')
    // A name the app chose is shown in the fenced list only, where Markdown renders no HTML.
    expect(summary).toMatch(/```\n[^`]*releases\/r1\/<img src=x>\.py\n[^`]*```/)
    expect(summary.split('```')[0]).not.toContain('<img')
    expect(transport.told).toContain('mode="remove (dry run)"')
  })
})

describe('the GitHub deployments of the environment', () => {
  beforeAll(() => githubApi(), 60_000)

  test('each not yet inactive is marked inactive; those of other environments are left', async () => {
    const server = await startGitHubServer()
    const add = (id: number, environment: string, states: string[]) =>
      server.deployments.set(id, {
        id,
        ref: 'a'.repeat(40),
        environment,
        request: {},
        statuses: states.map((state) => ({ state }))
      })
    add(1, 'production', ['success'])
    add(2, 'production', ['success', 'inactive'])
    add(3, 'staging', ['success'])
    add(4, 'production', [])
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
    try {
      const s = settingsFor({
        operation: { kind: 'remove', force: false },
        githubToken: 'ghs_x',
        deployment: true,
        environment: 'production'
      })
      const marked = await markDeploymentsInactive(s, {
        GITHUB_API_URL: server.url,
        GITHUB_REPOSITORY: 'octo/shop',
        GITHUB_RUN_ID: '7'
      })
      expect(marked).toBe(2)
      expect(server.requests.filter((r) => !r.valid).map((r) => r.errors)).toEqual([])
      expect(server.requests.flatMap((r) => r.answerErrors)).toEqual([])
      expect(server.requests.map((r) => r.operation)).toEqual([
        'repos/list-deployments',
        'repos/list-deployment-statuses',
        'repos/create-deployment-status',
        'repos/list-deployment-statuses',
        'repos/list-deployment-statuses',
        'repos/create-deployment-status'
      ])
      const last = (id: number) => server.deployments.get(id)?.statuses.at(-1)?.state
      expect([last(1), last(2), last(3), last(4)]).toEqual([
        'inactive',
        'inactive',
        'success',
        'inactive'
      ])
    } finally {
      spy.mockRestore()
      await server.close()
    }
  })
})

// Previews: the inputs refused, the names a preview gets on the host (deploy path, units, socket,
// site, certificate, app user, transient units) beside production's, the site's variable, the
// GitHub environment, and the remove of a preview (whole, production's names untouched).

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { renderSite } from '../src/render/nginx.js'
import { renderService, renderSocket } from '../src/render/gunicorn.js'
import { layout, socketPath, unitNames } from '../src/server/layout.js'
import { removeListStep, removeSteps, type RemoveListing } from '../src/server/remove.js'
import { jest } from '@jest/globals'
import { applyPreviewLimits } from '../src/flow/previews.js'
import { markDeploymentsInactive } from '../src/report/deployment.js'
import { startGitHubServer } from '../test/contract/github-server.js'
import { githubApi } from '../test/contract/openapi.js'
import type { HostDeps } from '../src/flow/deps.js'
import type { HostFacts } from '../src/server/facts.js'
import { inspectStep } from '../src/server/inspect.js'
import { listPreviews, parsePreviews, previewsToRemove } from '../src/server/previews.js'
import { productionSharedOpenMessage } from '../src/flow/notices.js'
import { unitPrefix } from '../src/server/sandbox.js'
import type { OperationOf, Settings } from '../src/settings.js'
import { hostFacts, readInputs, refusalOf } from './settings-fixture.js'

const dir = mkdtempSync(join(tmpdir(), 'dda-previews-'))
writeFileSync(join(dir, 'manage.py'), '')

// A preview deploy needs a domain of its own: every preview here has one unless it says otherwise.
const read = (overrides: Record<string, string>): Settings =>
  readInputs({ 'preview-domain': 'preview.example.net', ...overrides }, dir)
const refused = (overrides: Record<string, string>) =>
  refusalOf(() => read(overrides), overrides).message

describe('the preview inputs', () => {
  test.each([
    ['pr_1', 'letters, digits and -'],
    ['-pr', 'starting and ending'],
    ['pr-', 'starting and ending'],
    ['pr 1', 'letters, digits and -'],
    ['a'.repeat(31), 'at most 30'],
    ['pr.1', 'letters, digits and -']
  ])('preview %j is refused', (name, words) => {
    const message = refused({ preview: name })
    expect(message).toContain('preview')
    expect(message).toContain(words)
  })

  test('a name is lower-cased; letters, digits and - are a preview', () => {
    expect(read({ preview: 'PR-12' }).preview?.name).toBe('pr-12')
    expect(read({}).preview).toBeUndefined()
  })

  test('a preview deploy needs its own domain (a remove does not); its folders are its own', () => {
    expect(refused({ preview: 'pr-1', 'preview-domain': '' })).toMatch(
      /preview-domain.*is needed with preview/
    )
    expect(read({ preview: 'pr-1', remove: 'true', 'preview-domain': '' }).preview?.name).toBe(
      'pr-1'
    )
    const s = read({
      preview: 'pr-7',
      'preview-domain': 'preview.example.net',
      'deploy-path': '/srv/shop',
      'media-root': '/var/www/shop/media',
      'static-root': '/srv/shop/shared/static',
      'writable-paths': '/srv/shop-cache\n/srv/shop/shared/uploads'
    })
    expect(s.mediaRoot).toBe('/var/www/shop/media-pr-7')
    expect(s.staticRoot).toBe('/srv/shop-pr-7/shared/static')
    expect(s.writablePaths).toEqual(['/srv/shop-cache-pr-7', '/srv/shop-pr-7/shared/uploads'])
  })

  test("production's shared/ passable by every local user: the preview refused, saying why", () => {
    const values = (mode: string) => new Map([['production-shared', mode]])
    expect(parsePreviews(values('711')).productionSharedOpen).toBe(true)
    expect(parsePreviews(values('710')).productionSharedOpen).toBeUndefined()
    const s = read({ preview: 'pr-1', 'preview-domain': 'preview.example.net' })
    expect(String(listPreviews(s))).toContain('stat -c %a /srv/mysite/shared')
    expect(productionSharedOpenMessage(s)).toMatch(
      /^\/srv\/mysite\/shared is passable by every local user .* Deploy production once/
    )
  })

  test('preview-domain must be a domain; limit and ttl positive', () => {
    expect(refused({ preview: 'pr-1', 'preview-domain': 'bad_domain' })).toContain('preview-domain')
    expect(refused({ preview: 'pr-1', 'preview-domain': 'localhost' })).toContain('not a domain')
    expect(refused({ preview: 'pr-1', 'preview-limit': '0' })).toContain('preview-limit')
    expect(refused({ preview: 'pr-1', 'preview-ttl': 'soon' })).toContain('preview-ttl')
    const s = read({ preview: 'pr-1', 'preview-limit': '3', 'preview-ttl': '7' })
    expect(s.preview).toMatchObject({ limit: 3, ttlDays: 7 })
  })

  test('a preview whose app user would be longer than a user name may be is refused, saying why', () => {
    const message = refused({ preview: 'a'.repeat(30), 'app-user': 'a-long-app-user' })
    expect(message).toContain('app user longer than 32 characters')
    expect(read({ preview: 'a'.repeat(25) }).appUser).toBe(`mysite-${'a'.repeat(25)}`)
  })
})

describe("a preview's names beside production's", () => {
  const production = read({ 'server-name': 'example.com' })
  const preview = read({ 'server-name': 'example.com', preview: 'pr-1' })

  test('the Django package stays the project; the instance is <project>-<name>', () => {
    expect(preview.projectName).toBe('mysite')
    expect(preview.settingsModule).toBe('mysite.settings')
    expect(preview.wsgiModule).toBe('mysite.wsgi:application')
    expect(production.instanceName).toBe('mysite')
    expect(preview.instanceName).toBe('mysite-pr-1')
  })

  test('its own deploy path, app user, units, socket, site, tmpfiles line and certificate', () => {
    const p = layout(preview)
    expect(p.root).toBe('/srv/mysite-pr-1')
    expect(preview.appUser).toBe('mysite-pr-1')
    expect(production.appUser).toBe('mysite')
    expect(unitNames(preview.instanceName).service).toBe('gunicorn-mysite-pr-1@.service')
    expect(socketPath(preview.instanceName)).toBe('/run/gunicorn-mysite-pr-1.sock')
    expect(p.site).toBe('/etc/nginx/sites-available/mysite-pr-1')
    expect(p.tmpfiles).toBe('/etc/tmpfiles.d/gunicorn-mysite-pr-1.conf')
    expect(p.acme.certName).toBe('mysite-pr-1')
    const q = layout(production)
    for (const key of ['root', 'site', 'siteLink', 'tmpfiles', 'env', 'shared'] as const)
      expect(p[key]).not.toBe(q[key])
  })

  test('a deploy-path or app-user given for production gets -<name> in a preview', () => {
    const s = read({ preview: 'pr-1', 'deploy-path': '/srv/www/shop/', 'app-user': 'web' })
    expect(s.deployPath).toBe('/srv/www/shop-pr-1')
    expect(s.appUser).toBe('web-pr-1')
  })

  test('its units run as its own user from its own deploy path, on its own socket', () => {
    const service = renderService(preview, { appRoot: '/srv/mysite-pr-1/instances/%i', workers: 1 })
    expect(service).toContain('User=mysite-pr-1')
    expect(service).toContain('EnvironmentFile=-/srv/mysite-pr-1/.deploy/env')
    expect(service).toContain('Requires=gunicorn-mysite-pr-1@%i.socket')
    expect(renderSocket(preview)).toContain('ListenStream=/run/gunicorn-mysite-pr-1@%i.sock')
  })

  test("its site's upstream is its socket, and its map variable has no - (nginx refuses one)", () => {
    const site = renderSite({ ...preview, asgiModule: 'mysite.asgi:application' })
    expect(site).toContain('unix:/run/gunicorn-mysite-pr-1.sock')
    expect(site).toContain('$connection_upgrade_mysite_pr_1')
    for (const variable of site.match(/\$[A-Za-z0-9_-]+/g) ?? [])
      expect(variable).toMatch(/^\$[A-Za-z0-9_]+$/)
  })

  test("its transient units are matched by neither production's pattern nor another preview's", () => {
    const glob = (prefix: string) => new RegExp(`^${prefix.replaceAll('.', '\\.')}-.*$`)
    const unit = (s: Settings) => `${unitPrefix(s)}-venv-123.service`
    const pr12 = read({ preview: 'pr-1-2' })
    expect(glob(unitPrefix(production)).test(unit(preview))).toBe(false)
    expect(glob(unitPrefix(preview)).test(unit(pr12))).toBe(false)
    expect(glob(unitPrefix(preview)).test(unit(preview))).toBe(true)
    expect(glob(unitPrefix(production)).test(unit(production))).toBe(true)
  })

  test('1 worker unless workers says otherwise; processes only with preview-processes', () => {
    const processes = 'worker: celery -A mysite worker'
    expect(read({ preview: 'pr-1' }).workers).toBe(1)
    expect(read({ preview: 'pr-1', workers: '3' }).workers).toBe(3)
    expect(read({}).workers).toBe('auto')
    expect(read({ preview: 'pr-1', processes }).processes).toEqual([])
    expect(
      read({ preview: 'pr-1', processes, 'preview-processes': 'true' }).processes
    ).toHaveLength(1)
  })

  test('preview-domain names it <name>.<domain>, its environment <environment>/<name>', () => {
    const s = read({
      preview: 'pr-7',
      'preview-domain': 'preview.example.com',
      environment: 'staging'
    })
    expect(s.serverNames).toEqual(['pr-7.preview.example.com'])
    expect(s.environment).toBe('staging/pr-7')
    expect(s.environmentUrl).toBe('http://pr-7.preview.example.com')
    expect(read({ preview: 'pr-7' }).environment).toBe('production/pr-7')
    expect(production.environment).toBe('production')
  })

  test('with tls: auto each preview has a certificate of its own name', () => {
    const tls = { tls: 'auto', 'acme-email': 'ops@example.com', 'preview-domain': 'pv.example.com' }
    const one = read({ ...tls, preview: 'pr-1' })
    const two = read({ ...tls, preview: 'pr-2' })
    expect(one.acme).toBeDefined()
    expect(layout(one).acme.certName).toBe('mysite-pr-1')
    expect(layout(two).acme.certName).toBe('mysite-pr-2')
    expect(one.environmentUrl).toBe('https://pr-1.pv.example.com')
  })
})

describe('remove of a preview', () => {
  const s = read({ preview: 'pr-1', remove: 'true' })
  const op = s.operation as OperationOf<'remove'>

  test('takes the preview whole: its data and app user too (force)', () => {
    expect(op).toEqual({ kind: 'remove', force: true })
    expect(read({ remove: 'true' }).operation).toEqual({ kind: 'remove', force: false })
    const listing: RemoveListing = {
      units: ['gunicorn-mysite-pr-1@.service'],
      files: ['/etc/nginx/sites-available/mysite-pr-1'],
      certificate: false,
      user: true,
      entries: ['releases', 'shared', '.deploy'],
      appEntries: [],
      paths: []
    }
    const steps = removeSteps(s, op, listing)
    expect(steps.map((step) => step.id)).toEqual([
      'remove-site',
      'remove-units',
      'remove-files',
      'remove-user',
      'remove-preview-mark'
    ])
    const text = steps.map((step) => String(step.command)).join('\n')
    expect(text).toContain('userdel -- mysite-pr-1')
    expect(text).toContain('/srv/mysite-pr-1')
    // Nothing of production's is named.
    expect(text).not.toMatch(/\/srv\/mysite(?!-pr-1)/)
    expect(text).not.toMatch(/sites-(available|enabled)\/mysite(?!-pr-1)/)
    expect(text).not.toMatch(/userdel -- mysite(?!-pr-1)/)
  })

  test("looks for the preview's units and files, never production's", () => {
    const text = String(removeListStep(s).command)
    expect(text).toContain('gunicorn-mysite-pr-1@.service')
    expect(text).not.toMatch(/gunicorn-mysite@/)
    expect(text).toContain('# django-deploy-action process of mysite-pr-1')
  })
})

describe("the limits' choice of previews to remove", () => {
  const day = 24 * 60 * 60 * 1000
  const now = Date.UTC(2026, 11, 5)
  const onHost = [
    { name: 'pr-3', deployedAt: now - 1 * day },
    { name: 'pr-1', deployedAt: now - 10 * day },
    { name: 'pr-2', deployedAt: now - 5 * day }
  ]
  const names = (removals: { name: string }[]) => removals.map((r) => r.name)

  test('preview-limit: the least recently deployed go first, the one deployed now counts', () => {
    expect(names(previewsToRemove({ name: 'pr-4', limit: 3 }, onHost, now))).toEqual(['pr-1'])
    expect(names(previewsToRemove({ name: 'pr-4', limit: 2 }, onHost, now))).toEqual([
      'pr-1',
      'pr-2'
    ])
    expect(names(previewsToRemove({ name: 'pr-4', limit: 4 }, onHost, now))).toEqual([])
  })

  test('a preview deployed again is never removed, nor counted twice', () => {
    expect(names(previewsToRemove({ name: 'pr-1', limit: 3 }, onHost, now))).toEqual([])
    expect(names(previewsToRemove({ name: 'pr-1', limit: 2 }, onHost, now))).toEqual(['pr-2'])
    expect(names(previewsToRemove({ name: 'pr-1', ttlDays: 1 }, onHost, now))).toEqual([
      'pr-2',
      'pr-3'
    ])
  })

  test('preview-ttl: those not deployed for that many days, saying why; then the limit', () => {
    const removals = previewsToRemove({ name: 'pr-4', ttlDays: 7 }, onHost, now)
    expect(removals).toEqual([
      { name: 'pr-1', reason: 'not deployed for 10 days (preview-ttl: 7)' }
    ])
    expect(names(previewsToRemove({ name: 'pr-4', ttlDays: 7, limit: 2 }, onHost, now))).toEqual([
      'pr-1',
      'pr-2'
    ])
    expect(previewsToRemove({ name: 'pr-4' }, onHost, now)).toEqual([])
  })
})

describe('a preview deploy applies the limits on its host', () => {
  const s = read({ preview: 'pr-3', 'preview-limit': '2' })
  const run = async (facts: HostFacts, held: string[] = []) => {
    const ran: { id: string; command: string }[] = []
    const said: string[] = []
    const deps = {
      settings: s,
      info: (m: string) => said.push(m),
      warn: (m: string) => said.push(`warning: ${m}`),
      previewRemoved: (name: string) => ran.push({ id: `inactive ${name}`, command: '' }),
      // The sibling's lock, as the lock command answers when a run holds it.
      lockOther: async (other: Settings) => {
        if (held.includes(other.instanceName))
          throw new Error(
            `the deploy lock is held by: run 7. Another deploy to this host is running`
          )
        ran.push({ id: `lock ${other.instanceName}`, command: '' })
        return {
          staleHolder: '',
          release: async (result?: string) => {
            ran.push({ id: `release ${other.instanceName} (${result})`, command: '' })
          }
        }
      },
      run: async (step: { id: string; command: unknown }) => {
        const command = String(step.command)
        ran.push({ id: step.id, command })
        const stdout =
          step.id === 'remove-list' ? 'unit gunicorn-x@.service\nuser\nentry shared\n' : ''
        return { code: 0, stdout, stderr: '' }
      }
    } as unknown as HostDeps
    await applyPreviewLimits(deps, facts)
    return { ran, said }
  }
  const facts = hostFacts({
    previews: [
      { name: 'pr-1', deployedAt: 1_000_000 },
      { name: 'pr-2', deployedAt: 2_000_000 }
    ],
    now: 3_000_000
  })

  test('the least recently deployed is removed whole, saying so; then this one is marked', async () => {
    const { ran, said } = await run(facts)
    expect(said).toEqual([expect.stringContaining('Removing the preview mysite-pr-1')])
    const text = ran.map((r) => r.command).join('\n')
    expect(text).toContain('userdel -- mysite-pr-1')
    // Every step of the removal under the preview's own lock, let go after the last.
    const ids = ran.map((r) => r.id)
    expect(ids[0]).toBe('lock mysite-pr-1')
    expect(ids.indexOf('release mysite-pr-1 (success)')).toBe(ids.indexOf('remove-user') + 2)
    // Its GitHub deployments are marked inactive after the run (main.ts).
    expect(ids).toContain('inactive pr-1')
    expect(text).toContain('/var/lib/django-deploy-action/previews/mysite/pr-1')
    expect(text).not.toMatch(/mysite-pr-2|userdel -- mysite\b(?!-)/)
    expect(ran.at(-1)?.id).toBe('preview-mark')
    expect(ran.at(-1)?.command).toContain('/var/lib/django-deploy-action/previews/mysite/pr-3')
  })

  test('a preview a run holds is left alone, with a warning', async () => {
    const { ran, said } = await run(facts, ['mysite-pr-1'])
    expect(said).toEqual([
      expect.stringMatching(/^warning: The preview mysite-pr-1 was not removed/)
    ])
    expect(said[0]).toContain('a run holds its deploy lock')
    expect(ran.map((r) => r.id)).toEqual(['preview-mark'])
  })

  test("a new preview whose user or deploy path is there already (another's) is refused, nothing changed", async () => {
    expect(parsePreviews(new Map([['preview-taken', 'user path']]))).toEqual({
      previewTaken: ['user', 'path']
    })
    expect(parsePreviews(new Map([['preview-taken', '']]))).toEqual({})
    const refused = run({ ...facts, previewTaken: ['user'] })
    await expect(refused).rejects.toThrow(
      'The preview mysite-pr-3 is new on this host, but the user mysite-pr-3 is there already'
    )
    // Only for a preview not in the registry: its own user is no one else's.
    const check = String(inspectStep(s).command)
    expect(check).toContain('if [ ! -e /var/lib/django-deploy-action/previews/mysite/pr-3 ]; then')
    expect(check).toContain('id -u -- mysite-pr-3')
  })

  test('the host check lists the previews only in a preview deploy; its lines are read back', () => {
    expect(String(inspectStep(s).command)).toContain(
      '/var/lib/django-deploy-action/previews/mysite'
    )
    expect(String(inspectStep(read({})).command)).not.toContain('previews')
    const values = new Map([
      ['previews', 'pr-1:1700000000 ../x:1 pr-2:1700000100'],
      ['now', '1700000200']
    ])
    expect(parsePreviews(values)).toEqual({
      previews: [
        { name: 'pr-1', deployedAt: 1_700_000_000_000 },
        { name: 'pr-2', deployedAt: 1_700_000_100_000 }
      ],
      now: 1_700_000_200_000
    })
  })
})

describe("a preview's GitHub deployments", () => {
  beforeAll(() => githubApi(), 60_000)

  test("its remove marks those of <environment>/<name> inactive, never production's or another preview's", async () => {
    const server = await startGitHubServer()
    const add = (id: number, environment: string) =>
      server.deployments.set(id, {
        id,
        ref: 'a'.repeat(40),
        environment,
        request: {},
        statuses: [{ state: 'success' }]
      })
    add(1, 'production')
    add(2, 'production/pr-1')
    add(3, 'production/pr-2')
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
    try {
      const s = read({
        preview: 'pr-1',
        remove: 'true',
        deployment: 'true',
        'github-token': 'ghs_x'
      })
      const marked = await markDeploymentsInactive(s, {
        GITHUB_API_URL: server.url,
        GITHUB_REPOSITORY: 'octo/shop',
        GITHUB_RUN_ID: '7'
      })
      expect(marked).toBe(1)
      expect(server.requests.filter((r) => !r.valid).map((r) => r.errors)).toEqual([])
      const last = (id: number) => server.deployments.get(id)?.statuses.at(-1)?.state
      expect([last(1), last(2), last(3)]).toEqual(['success', 'inactive', 'success'])
    } finally {
      spy.mockRestore()
      await server.close()
    }
  })
})

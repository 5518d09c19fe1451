import { boundaryOps } from '../src/server/boundary.js'
import { planRun, targetRelease } from '../src/plan.js'
import { workerCount } from '../src/server/config.js'
import type { ProjectSettings } from '../src/server/discover.js'
import { sharedNotice, sharedPaths } from '../src/server/shared.js'
import type { Settings } from '../src/settings.js'
import { parseProjectSettings, rebaseProjectSettings } from '../src/server/discover.js'
import { djangoSteps } from '../src/server/django.js'
import { sitePaths } from '../src/server/settings-folders.js'
import { healthHost, parseErrors, parseHealth } from '../src/server/health.js'
import type { HostFacts } from '../src/server/facts.js'
import { parseFacts } from '../src/server/inspect.js'
import { releaseClock, releaseId, venvKey, venvStep } from '../src/server/release.js'
import { createRollout, rollOut } from '../src/rollout.js'
import { settingsFor, hostFacts } from './settings-fixture.js'

const facts: HostFacts = hostFacts()
const RELEASE = '20261125T081500Z-1a2b3c4'

describe('release ids', () => {
  test('sortable, naming the commit', () => {
    expect(releaseId(new Date('2026-11-25T08:15:00.123Z'), '1a2b3c4d5e6f')).toBe(RELEASE)
    expect(releaseId(new Date('2026-11-25T08:15:00Z'), '')).toBe('20261125T081500Z-local')
  })

  test('fixed at the first call, so every host of a run shares one', () => {
    let t = Date.parse('2026-11-25T08:15:00Z')
    const next = releaseClock('1a2b3c4', () => new Date((t += 5000)))
    expect(next()).toBe('20261125T081505Z-1a2b3c4')
    expect(next()).toBe('20261125T081505Z-1a2b3c4')
  })
})

test("the dry run reads the live release's settings: every path in it moves to the new release", () => {
  const s = settingsFor({ deployPath: '/srv/shop' })
  const [live, next] = ['20261101T000000Z-aaaaaaa', RELEASE]
  const moved = rebaseProjectSettings(
    s,
    {
      staticRoot: `/srv/shop/releases/${live}/static`,
      mediaRoot: '/srv/shop/shared/media',
      sqlite: [`/srv/shop/releases/${live}/db.sqlite3`, '/var/lib/app/other.sqlite3'],
      storage: `/srv/shop/releases/${live}/uploads`,
      compress: {
        enabled: true,
        offline: false,
        root: `/srv/shop/releases/${live}/static`,
        output: 'CACHE'
      }
    },
    live,
    next
  )
  expect(moved).toEqual({
    staticRoot: `/srv/shop/releases/${next}/static`,
    mediaRoot: '/srv/shop/shared/media',
    sqlite: [`/srv/shop/releases/${next}/db.sqlite3`, '/var/lib/app/other.sqlite3'],
    storage: `/srv/shop/releases/${next}/uploads`,
    compress: {
      enabled: true,
      offline: false,
      root: `/srv/shop/releases/${next}/static`,
      output: 'CACHE'
    }
  })
})

describe('rollback: true', () => {
  const target = (over: Partial<HostFacts>) =>
    targetRelease(settingsFor({ rollback: true }), { ...facts, ...over }, RELEASE)
  const [r3, r2, r1] = [
    '20261103T000000Z-ccccccc',
    '20261102T000000Z-bbbbbbb',
    '20261101T000000Z-aaaaaaa'
  ]

  test('goes back to the newest earlier release that went live, never to one a killed run left half-built', () => {
    expect(target({ live: r3, releases: [r3, r2, r1], served: [r3, r1] })).toBe(r1)
    expect(target({ live: r3, releases: [r3, r2, r1], served: [r3, r2, r1], failed: [r2] })).toBe(
      r1
    )
  })

  test('a host deployed before releases were marked as served: any release not marked failed', () => {
    expect(target({ live: r3, releases: [r3, r2, r1], served: [] })).toBe(r2)
  })

  test('nothing earlier went live: refused before anything runs', () => {
    expect(() => target({ live: r3, releases: [r3, r2], served: [r3] })).toThrow(
      /no earlier good release on the host/
    )
  })
})

describe('what the host says', () => {
  test('facts: live release, releases newest first, failed ones, values that are not names dropped', () => {
    const parsed = parseFacts(
      'cpus=4\npython=3.11.2 /usr/bin/python3.11\nlive=r2\nreleases=r3 r2 r1 bad$name \nserved=r2 r1 \nfailed=r3 \n'
    )
    expect(parsed).toEqual({
      cpus: 4,
      live: 'r2',
      releases: ['r3', 'r2', 'r1'],
      failed: ['r3'],
      served: ['r2', 'r1'],
      python: '3.11.2 /usr/bin/python3.11',
      processUnits: [],
      maintenance: false,
      instance: '',
      migrated: [],
      backups: []
    })
    expect(parseFacts('instance=green\n').instance).toBe('green')
    expect(parseFacts('instance=legacy\n').instance).toBe('legacy')
    expect(parseFacts('instance=../x\n').instance).toBe('')
    expect(parseFacts('cpus=\nlive=.\n').live).toBe('')
  })

  test("Django's paths are validated like inputs", () => {
    const line = (values: object) => `noise\nDJANGO-SETTINGS ${JSON.stringify(values)}\n`
    expect(
      parseProjectSettings(
        line({
          STATIC_URL: 'static/',
          STATIC_ROOT: '/srv/mysite/releases/r1/staticfiles',
          MEDIA_URL: '/media/',
          MEDIA_ROOT: '/srv/mysite/shared/media/',
          STATIC_STORAGE: 'django.contrib.staticfiles.storage.StaticFilesStorage'
        })
      )
    ).toMatchObject({
      staticUrl: '/static/',
      staticRoot: '/srv/mysite/releases/r1/staticfiles',
      mediaUrl: '/media/',
      mediaRoot: '/srv/mysite/shared/media',
      staticStorage: 'django.contrib.staticfiles.storage.StaticFilesStorage'
    })
    const hostile = parseProjectSettings(
      line({
        STATIC_URL: 'https://cdn.example.com/',
        STATIC_ROOT: '/srv/x; rm -rf /',
        MEDIA_URL: '/a/../b/',
        MEDIA_ROOT: 'relative',
        STATIC_STORAGE: 'x; rm -rf /'
      })
    )
    expect(hostile).toMatchObject({
      staticUrl: undefined,
      staticRoot: undefined,
      mediaUrl: undefined,
      mediaRoot: undefined,
      staticStorage: undefined
    })
    expect(parseProjectSettings('ImproperlyConfigured')).toBeUndefined()
  })

  test('health: the verdict, the status and the time', () => {
    expect(parseHealth('healthy 200 140\n')).toEqual({
      healthy: true,
      status: 200,
      durationMs: 140,
      detail: ''
    })
    expect(parseHealth('unhealthy 0 8000 [Errno 111] Connection refused\n')).toEqual({
      healthy: false,
      status: 0,
      durationMs: 8000,
      detail: '[Errno 111] Connection refused'
    })
  })

  test('the errors section of the diagnostics', () => {
    const out =
      '--- errors in the journal\nImportError: cannot import name x\n--- journalctl\nnoise\n'
    expect(parseErrors(out)).toEqual(['ImportError: cannot import name x'])
    expect(parseErrors('nothing')).toEqual([])
  })
})

describe('choices made from the settings', () => {
  test('workers: auto is 2 x cores + 1', () => {
    expect(workerCount(settingsFor(), { ...facts, cpus: 4 })).toBe(9)
    expect(workerCount(settingsFor({ workers: 3 }), facts)).toBe(3)
  })

  test('the health check Host header', () => {
    expect(healthHost(settingsFor({ serverNames: ['example.com', 'www.example.com'] }))).toBe(
      'example.com'
    )
    expect(healthHost(settingsFor({ serverNames: ['_'] }))).toBe('localhost')
    expect(healthHost(settingsFor({ serverNames: ['*.example.com'] }))).toBe('www.example.com')
  })

  test('static files inside the release are served through current, so they roll back with it', () => {
    const found = {
      staticUrl: '/static/',
      staticRoot: `/srv/mysite/releases/${RELEASE}/staticfiles`,
      mediaRoot: '/srv/mysite/shared/media'
    }
    expect(sitePaths(settingsFor(), RELEASE, found)).toMatchObject({
      staticRoot: '/srv/mysite/current/staticfiles',
      mediaRoot: '/srv/mysite/shared/media'
    })
    expect(
      sitePaths(settingsFor({ staticRoot: '/var/www/static' }), RELEASE, found).staticRoot
    ).toBe('/var/www/static')
  })

  test("collectstatic works in Django's own STATIC_ROOT, and is skipped without one", () => {
    const staticRoot = `/srv/mysite/releases/${RELEASE}/staticfiles`
    const steps = djangoSteps(settingsFor({ staticRoot: '/var/www/static' }), RELEASE, {
      staticRoot
    })
    const collect = steps.find((step) => step.id === 'django')
    expect(collect?.title).toBe('manage.py migrate (when a migration is unapplied), collectstatic')
    // Made for the app without following a link, then written by it in the sandbox.
    expect(boundaryOps(collect?.command.text ?? '')).toContainEqual({
      op: 'folder',
      path: staticRoot,
      owner: { user: 'mysite', group: 'mysite' },
      mode: '755'
    })
    expect(collect?.command.text).toContain(`'ReadWritePaths=${staticRoot}'`)
    expect(collect?.command.text).not.toContain('/var/www/static')
    expect(boundaryOps(collect?.command.text ?? '').map((op) => op.op)).not.toContain('link')
    const without = djangoSteps(settingsFor(), RELEASE, {})
    expect(without.map((step) => step.title)).toEqual([
      'manage.py migrate (when a migration is unapplied)'
    ])
  })

  test("collectstatic starts from the previous release's collected files, linked, not copied", () => {
    const staticRoot = `/srv/mysite/releases/${RELEASE}/staticfiles`
    const previous = '20261120T100000Z-aaaaaaa'
    const storage = 'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'
    const django = (found: ProjectSettings) =>
      djangoSteps(settingsFor(), RELEASE, found, previous).find((s) => s.id === 'django')?.command
        .text ?? ''
    const text = django({ staticRoot, staticStorage: storage })
    // Root's folder while the links are made; its folders then handed over, deepest first; all
    // before the process, through the boundary.
    const linked = (text: string) => boundaryOps(text).some((op) => op.op === 'link')
    expect(boundaryOps(text)).toEqual([
      { op: 'folder', path: staticRoot, owner: { user: 'root', group: 'root' }, mode: '755' },
      { op: 'link', from: `/srv/mysite/releases/${previous}/staticfiles`, path: staticRoot },
      { op: 'hand', path: staticRoot, user: 'mysite', foldersOnly: true },
      // The folder of the database backup, the app's while the process runs.
      { op: 'hand', path: `/srv/mysite/backups/.new-${RELEASE}`, user: 'mysite' },
      { op: 'take', path: staticRoot, group: 'root', mode: 'public', user: 'mysite' }
    ])
    expect(text.indexOf('systemd-run')).toBeGreaterThan(text.indexOf('"op":"hand"'))
    expect(text.indexOf('systemd-run')).toBeLessThan(text.indexOf('"op":"take"'))
    // Build commands have the release, but not the linked files, which are v1's too: never the
    // app's, never sealed as code while nginx serves them from the live release.
    const building = djangoSteps(
      settingsFor({ buildCommands: [['compilemessages']] }),
      RELEASE,
      { staticRoot, staticStorage: storage },
      previous
    ).find((s) => s.id === 'django')?.command.text
    const release = `/srv/mysite/releases/${RELEASE}`
    expect(boundaryOps(building ?? '')).toContainEqual({
      op: 'hand',
      path: release,
      user: 'mysite',
      except: 'staticfiles'
    })
    expect(boundaryOps(building ?? '')).toContainEqual({
      op: 'take',
      path: release,
      group: 'mysite',
      mode: 'code',
      except: 'staticfiles',
      user: 'mysite'
    })
    // Collected outside the release (kept across releases): nothing to link.
    expect(linked(django({ staticRoot: '/srv/mysite/static', staticStorage: storage }))).toBe(false)
    // A storage that writes into the files it finds (whitenoise compresses them in place), or
    // one not known: collected from scratch, the previous release's files untouched.
    for (const other of [
      'whitenoise.storage.CompressedManifestStaticFilesStorage',
      'storages.backends.s3.S3Storage',
      undefined
    ])
      expect(linked(django({ staticRoot, staticStorage: other }))).toBe(false)
  })

  test('a MEDIA_ROOT outside shared/ is made writable in the sandbox', () => {
    const plan = (s: Settings, found: ProjectSettings) =>
      planRun({ settings: s, facts, newRelease: RELEASE, venvKey: null, projectSettings: found })
    const inside = plan(settingsFor(), { mediaRoot: '/srv/mysite/shared/media' })
    expect(inside.files.service.text).not.toMatch(/ReadWritePaths=\/var/)
    const named = settingsFor({ mediaRoot: '/var/lib/mysite/media' })
    const outside = plan(named, { mediaRoot: '/var/lib/mysite/media' })
    expect(outside.files.service.text).toContain('ReadWritePaths=/var/lib/mysite/media')
  })
})

describe('what the project keeps inside the release', () => {
  const release = `/srv/mysite/releases/${RELEASE}`
  const plan = (found: ProjectSettings, overrides: Partial<Settings> = {}) =>
    planRun({
      settings: settingsFor(overrides),
      facts,
      newRelease: RELEASE,
      venvKey: null,
      projectSettings: found
    })

  test("startproject's SQLite database and a MEDIA_ROOT in the release are kept in shared/", () => {
    const found = { sqlite: [`${release}/db.sqlite3`], mediaRoot: `${release}/media` }
    expect(sharedPaths(settingsFor(), RELEASE, found)).toEqual([
      { path: 'db.sqlite3', kind: 'file', why: 'the SQLite database in DATABASES' },
      { path: 'media', kind: 'folder', why: 'MEDIA_ROOT' }
    ])
    const steps = plan(found).build
    // Linked and made by root in the script of the Django process's step, before it: one round trip.
    expect(steps.map((step) => step.id)).toEqual(['django'])
    const text = steps[0].command.text
    // Linked by root, then the media folder made where it really lives, in shared/, before the
    // process runs.
    expect(boundaryOps(text)).toEqual([
      {
        op: 'folder',
        path: '/srv/mysite/shared/media',
        owner: { user: 'mysite', group: 'www-data' },
        mode: '2750'
      },
      {
        op: 'share',
        path: release,
        links: [
          ['db.sqlite3', '/srv/mysite/shared/db.sqlite3'],
          ['media', '/srv/mysite/shared/media']
        ]
      },
      {
        op: 'folder',
        path: '/srv/mysite/shared/media',
        owner: { user: 'mysite', group: 'www-data' },
        mode: '2750'
      },
      { op: 'hand', path: `/srv/mysite/backups/.new-${RELEASE}`, user: 'mysite' }
    ])
    expect(text.lastIndexOf('"op":"folder"')).toBeLessThan(
      text.indexOf('--uid=mysite', text.indexOf('"op":"share"'))
    )
    expect(sharedNotice(settingsFor(), sharedPaths(settingsFor(), RELEASE, found))).toContain(
      'db.sqlite3 (the SQLite database in DATABASES) is inside the release: kept in /srv/mysite/shared/db.sqlite3'
    )
  })

  test('shared-paths adds to what is found; a path inside a shared folder is shared with it', () => {
    const s = settingsFor({ sharedPaths: ['uploads/', 'uploads/x.txt', 'config.ini'] })
    expect(sharedPaths(s, RELEASE, { mediaRoot: `${release}/uploads/images` })).toEqual([
      { path: 'uploads', kind: 'folder', why: 'shared-paths' },
      { path: 'config.ini', kind: 'file', why: 'shared-paths' }
    ])
  })

  test('django-compressor: offline compresses before the switch, online keeps its cache in shared/', () => {
    const offline = plan({
      staticRoot: `${release}/staticfiles`,
      compress: { enabled: true, offline: true, output: 'CACHE' }
    })
    expect(offline.build.map((step) => step.title)).toContain(
      'manage.py migrate (when a migration is unapplied), collectstatic, compress --force'
    )
    const online = {
      staticRoot: `${release}/staticfiles`,
      compress: { enabled: true, offline: false, output: 'CACHE' }
    }
    expect(sharedPaths(settingsFor(), RELEASE, online)).toEqual([
      { path: 'staticfiles/CACHE', kind: 'folder', why: "django-compressor's online cache" }
    ])
  })

  test("ALLOWED_HOSTS that refuses the site's name stops the deploy before anything is switched", () => {
    expect(() => plan({ refusedHosts: ['example.com'] })).toThrow(
      /ALLOWED_HOSTS in the project's settings does not allow 'example.com'/
    )
    expect(() => plan({ refusedHosts: ['localhost'] }, { serverNames: ['_'] })).toThrow(
      /with server-name: _ the health check asks for localhost/
    )
  })

  test("folders the settings name outside the deploy path, or the action's own, are refused", () => {
    expect(() => plan({ mediaRoot: '/etc' })).toThrow(
      /MEDIA_ROOT in the project's settings is \/etc, outside deploy-path/
    )
    expect(() => plan({ staticRoot: '/srv/mysite/.deploy' })).toThrow(
      /one of the action's own folders/
    )
    expect(() =>
      plan({ staticRoot: '/srv/mysite/releases/20261120T100000Z-aaaaaaa/static' })
    ).toThrow(/another release/)
    // BASE_DIR.parent / 'static': beside the releases, under the live one's feet (see
    // project-settings.test.ts).
    expect(() => plan({ staticRoot: '/srv/mysite/releases/static' })).toThrow(/in no release/)
  })
})

describe('venvs kept by their requirements', () => {
  const files = [{ path: 'requirements.txt', text: 'Django==4.2\ngunicorn\n' }]

  test('the same requirements, interpreter and flags give the same key', () => {
    const key = venvKey(files, facts.python, false)
    expect(key).toMatch(/^[0-9a-f]{16}$/)
    expect(venvKey(files, facts.python, false)).toBe(key)
    expect(
      venvKey([{ path: 'requirements.txt', text: 'Django==5.0\n' }], facts.python, false)
    ).not.toBe(key)
    expect(venvKey(files, '3.12.1 /usr/bin/python3.12', false)).not.toBe(key)
    expect(venvKey(files, facts.python, true)).not.toBe(key)
  })

  test('requirements on local paths are not cached', () => {
    expect(venvKey([{ path: 'requirements.txt', text: '-e .\n' }], facts.python, false)).toBeNull()
    expect(
      venvKey([{ path: 'requirements.txt', text: './libs/mylib\n' }], facts.python, false)
    ).toBeNull()
    expect(
      venvKey([{ path: 'r.txt', text: 'mylib @ file:///srv/mylib\n' }], facts.python, false)
    ).toBeNull()
  })

  test('a kept venv is built beside the upload, from its requirements sent ahead', () => {
    const plan = (venvKey: string | null, requirements: typeof files | null) =>
      planRun({
        settings: settingsFor(),
        facts,
        newRelease: RELEASE,
        venvKey,
        projectSettings: {},
        requirements
      })
    const upload = (p: ReturnType<typeof plan>) =>
      p.release.find((step) => step.id === 'upload')?.command.text ?? ''
    const sent = plan('abcdef0123456789', files)
    expect(upload(sent)).toContain(Buffer.from(files[0].text).toString('base64'))
    expect(upload(sent)).toContain("'built the venv abcdef0123456789 beside the upload'")
    // In the background while tar reads the upload; waited for after it.
    expect(upload(sent).indexOf('&\nvenv_pid=$!')).toBeLessThan(upload(sent).indexOf('tar -xzf'))
    expect(upload(sent).indexOf('wait "$venv_pid"')).toBeGreaterThan(
      upload(sent).indexOf('tar -xzf')
    )
    // No key (local paths), requirements the runner could not read, or too many to send: after it.
    const big = [{ path: 'requirements.txt', text: `# ${'x'.repeat(40_000)}\nDjango\n` }]
    for (const after of [
      plan(null, files),
      plan('abcdef0123456789', null),
      plan('abcdef0123456789', big)
    ])
      expect(upload(after)).not.toContain('beside the upload')
  })

  test('a kept venv is linked into the release; without a key the venv lives in it', () => {
    expect(
      boundaryOps(venvStep(settingsFor(), RELEASE, 'abcdef0123456789').command.text)
    ).toContainEqual({
      op: 'symlink',
      path: `/srv/mysite/releases/${RELEASE}`,
      name: '.venv',
      target: '../../venvs/abcdef0123456789'
    })
    expect(venvStep(settingsFor(), RELEASE, null).command.text).toContain(
      `/srv/mysite/releases/${RELEASE}/.venv`
    )
  })
})

describe('rolling out', () => {
  const hosts = ['a', 'b', 'c', 'd'].map((name) => ({ name, port: 22 }))

  test('batches of max-parallel; the first failure stops the hosts not yet reached', async () => {
    const started: string[] = []
    const reports = await rollOut(
      hosts,
      2,
      async (host) => {
        started.push(host.name)
        return { host: host.name, status: host.name === 'b' ? 'failure' : 'success' }
      },
      (host) => ({ host: host.name, status: 'skipped' })
    )
    expect(started).toEqual(['a', 'b'])
    expect(reports.map((r) => `${r.host}:${r.status}`)).toEqual([
      'a:success',
      'b:failure',
      'c:skipped',
      'd:skipped'
    ])
  })

  test("the first host's migrations come before anyone else's, and its failure stops them", async () => {
    const rollout = createRollout(hosts, () => RELEASE)
    expect(rollout.isFirst(hosts[0])).toBe(true)
    expect(rollout.isFirst(hosts[1])).toBe(false)
    let waited = false
    const other = rollout.firstMigration.then(() => (waited = true))
    await Promise.resolve()
    expect(waited).toBe(false)
    rollout.migrated()
    await other
    expect(waited).toBe(true)

    const failing = createRollout(hosts, () => RELEASE)
    failing.migrated(new Error('stopped: a failed'))
    await expect(failing.firstMigration).rejects.toThrow('stopped: a failed')
  })
})

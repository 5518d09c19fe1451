// What the project's own settings may name (server/settings-folders.ts, server/layout.ts): never
// the release's code, never a folder in releases/ outside the release, django-compressor's cache
// only below its root; and where nginx serves what is kept in shared/.

import { planRun, PlanError } from '../src/plan.js'
import { servedPaths } from '../src/server/settings-folders.js'
import { parseProjectSettings, type ProjectSettings } from '../src/server/discover.js'
import type { Settings } from '../src/settings.js'
import { hostFacts, settingsFor } from './settings-fixture.js'

const RELEASE = '20261125T081500Z-1a2b3c4'
const release = `/srv/mysite/releases/${RELEASE}`

const plan = (found: ProjectSettings, overrides: Partial<Settings> = {}) =>
  planRun({
    settings: settingsFor(overrides),
    facts: hostFacts(),
    newRelease: RELEASE,
    venvKey: null,
    projectSettings: found
  })

/** The PlanError a plan raises, or undefined. */
function refusal(found: ProjectSettings, overrides: Partial<Settings> = {}): string | undefined {
  try {
    plan(found, overrides)
    return undefined
  } catch (error) {
    if (error instanceof PlanError) return error.message
    throw error
  }
}

describe('the app never owns its own code', () => {
  test.each([
    ['the release itself', release, /the release itself: the app would own its own code/],
    ['the venv', `${release}/.venv`, /in the release's venv \(\.venv\)/],
    ['a folder in the venv', `${release}/.venv/lib/media`, /in the release's venv/],
    ['the settings package', `${release}/mysite`, /part of the code of the settings or WSGI/]
  ])('MEDIA_ROOT as %s is refused', (_name, mediaRoot, says) => {
    const message = refusal({ mediaRoot })
    expect(message).toMatch(says)
    expect(message).toMatch(/^MEDIA_ROOT in the project's settings is /)
    expect(message).toContain('refused before anything ran')
  })

  test.each([
    ['the release itself', release, /the release itself/],
    ['the venv', `${release}/.venv`, /in the release's venv/],
    ['a file in the venv', `${release}/.venv/db.sqlite3`, /in the release's venv/],
    ['the settings module', `${release}/mysite/settings.py`, /settings or WSGI\/ASGI module/],
    [
      'a package of the WSGI module',
      `${release}/config/__init__.py`,
      /settings or WSGI\/ASGI module/
    ],
    ['the ASGI module', `${release}/live/asgi.py`, /settings or WSGI\/ASGI module/]
  ])('the SQLite database as %s is refused', (_name, file, says) => {
    const message = refusal(
      { sqlite: [file] },
      { wsgiModule: 'config.wsgi:application', asgiModule: 'live.asgi:application' }
    )
    expect(message).toMatch(says)
    expect(message).toMatch(/^the SQLite database in DATABASES in the project's settings is /)
  })

  test("STATIC_ROOT, the file storage and django-compressor's cache: the same rule", () => {
    expect(refusal({ staticRoot: release })).toMatch(/^STATIC_ROOT .* the release itself/)
    expect(refusal({ storage: `${release}/.venv` })).toMatch(/^the file storage .* venv/)
    expect(
      refusal({
        staticRoot: `${release}/staticfiles`,
        compress: { enabled: true, offline: false, root: release, output: 'mysite' }
      })
    ).toMatch(/^django-compressor's online cache .* settings or WSGI\/ASGI module/)
  })

  test('what startproject does is accepted: data beside the code, kept in shared/', () => {
    expect(
      refusal({
        staticRoot: `${release}/staticfiles`,
        mediaRoot: `${release}/media`,
        sqlite: [`${release}/db.sqlite3`],
        storage: `${release}/media`
      })
    ).toBeUndefined()
    // MEDIA_ROOT unset (''): Django's file storage points at the release, which nothing keeps
    // or hands over.
    expect(refusal({ staticRoot: `${release}/staticfiles`, storage: release })).toBeUndefined()
    // A name that only starts like the venv or a package is another folder.
    expect(
      refusal({ mediaRoot: `${release}/.venvs-media`, sqlite: [`${release}/mysite.db`] })
    ).toBeUndefined()
  })
})

describe('a STATIC_ROOT in releases/ but in no release', () => {
  // A real project's BASE_DIR.parent / 'static', with BASE_DIR the release.
  const message = refusal({ staticRoot: '/srv/mysite/releases/static' })

  test('is refused before anything runs, saying why', () => {
    expect(message).toMatch(
      /^STATIC_ROOT in the project's settings is \/srv\/mysite\/releases\/static, in \/srv\/mysite\/releases\/ but in no release/
    )
    expect(message).toContain(
      'collectstatic rewrites the files the live release serves, and ' +
        "django-compressor's online cache there is read-only to the app"
    )
    expect(message).toContain('refused before anything ran')
  })

  test('and what to do instead', () => {
    expect(message).toContain("Keep STATIC_ROOT in the project (BASE_DIR / 'staticfiles'")
    expect(message).toContain('name a folder of its own with the input static-root')
    expect(message).toContain('or put it under /srv/mysite/shared.')
  })

  test('MEDIA_ROOT too; a folder below one, and the input naming it, are judged the same way', () => {
    expect(refusal({ mediaRoot: '/srv/mysite/releases/media' })).toMatch(
      /^MEDIA_ROOT .* in no release.*input media-root/
    )
    expect(refusal({ staticRoot: '/srv/mysite/releases/static/v2' })).toMatch(/in no release/)
    // The input names the folder: the user chose it (static-root writes no release's files).
    expect(
      refusal(
        { staticRoot: '/srv/mysite/releases/static/x' },
        { staticRoot: '/srv/mysite/releases/static/x' }
      )
    ).toBeUndefined()
    // The release's own folder, and another release's, as before.
    expect(refusal({ staticRoot: `${release}/staticfiles` })).toBeUndefined()
    expect(refusal({ staticRoot: '/srv/mysite/releases/20261120T100000Z-aaaaaaa/s' })).toMatch(
      /another release/
    )
  })
})

describe('COMPRESS_OUTPUT_DIR', () => {
  const read = (output: unknown) =>
    parseProjectSettings(
      `DJANGO-SETTINGS ${JSON.stringify({
        STATIC_ROOT: `${release}/staticfiles`,
        COMPRESS: { enabled: true, offline: false, root: '', output }
      })}\n`
    ) ?? {}

  test.each(['CACHE', 'compressed', 'cache/v2', 'a.b', '_c-d'])(
    '%s is a folder: accepted',
    (out) => {
      const found = read(out)
      expect(found.compress).toMatchObject({ output: out })
      expect(found.compress?.outputProblem).toBeUndefined()
      expect(refusal(found)).toBeUndefined()
    }
  )

  test.each(['..', '.', '../static', 'CACHE/..', 'a/./b', '', '/', '/etc', 'a//b', 'a b', 7])(
    '%j is refused, with a clear error',
    (out) => {
      const found = read(out)
      expect(found.compress?.outputProblem).toMatch(
        /^COMPRESS_OUTPUT_DIR in the project's settings/
      )
      const message = refusal(found)
      expect(message).toMatch(/is not a folder below COMPRESS_ROOT/)
      expect(message).toContain('refused before anything ran. Leave it unset (CACHE, its default)')
    }
  )

  test('the value is repeated only when it is plain', () => {
    expect(read('..').compress?.outputProblem).toContain("settings '..' is not a folder")
    expect(read('a\n::error::x').compress?.outputProblem).toContain('settings is not a folder')
  })

  test('not printed (an earlier record): the default, CACHE', () => {
    const found = parseProjectSettings(
      `DJANGO-SETTINGS ${JSON.stringify({ COMPRESS: { enabled: true, offline: true } })}\n`
    )
    expect(found?.compress).toEqual({ enabled: true, offline: true, output: 'CACHE' })
  })
})

describe('what is kept in shared/ is served from there: nginx follows no link below current', () => {
  const s = settingsFor()

  test('a MEDIA_ROOT in the release (linked to shared/) is served from shared/', () => {
    const paths = servedPaths(s, RELEASE, {
      staticUrl: '/static/',
      staticRoot: `${release}/staticfiles`,
      mediaUrl: '/media/',
      mediaRoot: `${release}/media`
    })
    expect(paths).toMatchObject({
      staticRoot: '/srv/mysite/current/staticfiles',
      mediaRoot: '/srv/mysite/shared/media',
      staticBelow: [],
      mediaBelow: []
    })
    const site = plan({ mediaUrl: '/media/', mediaRoot: `${release}/media` }).files.site.text
    expect(site).toContain('alias /srv/mysite/shared/media/;')
    expect(site).not.toContain('current/media')
  })

  test("django-compressor's online cache in STATIC_ROOT gets a location of its own", () => {
    const found = {
      staticUrl: '/static/',
      staticRoot: `${release}/staticfiles`,
      compress: { enabled: true, offline: false, output: 'CACHE' }
    }
    expect(servedPaths(s, RELEASE, found).staticBelow).toEqual([
      { below: 'CACHE', root: '/srv/mysite/shared/staticfiles/CACHE' }
    ])
    const site = plan(found).files.site.text
    expect(site).toContain(
      [
        '    location /static/CACHE/ {',
        '        alias /srv/mysite/shared/staticfiles/CACHE/;',
        '        disable_symlinks on from=/srv/mysite;',
        '        expires 30d;',
        '    }'
      ].join('\n')
    )
    expect(site).toContain('        disable_symlinks on from=/srv/mysite/current;')
  })

  test('folders outside the release, and those an input names, are served where they are', () => {
    const outside = servedPaths(settingsFor({ mediaRoot: '/var/www/media' }), RELEASE, {
      staticUrl: '/static/',
      staticRoot: '/srv/mysite/shared/static',
      mediaUrl: '/media/'
    })
    expect(outside).toMatchObject({
      staticRoot: '/srv/mysite/shared/static',
      mediaRoot: '/var/www/media',
      staticBelow: [],
      mediaBelow: []
    })
  })
})

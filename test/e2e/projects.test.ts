// Real projects deploy as they are: the untouched output of `django-admin startproject`, a
// repository with its project in src/ and split settings, django-compressor offline and online.
// What their settings keep inside the code (the SQLite database, MEDIA_ROOT, compressor's cache)
// outlives every release and a rollback. One host; each project its own name and deploy path.
import { mkdirSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { type ActionRun, runAction } from './action.js'
import { annotations, checkout, deployInputs, edit, get, newCommit, onHost } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost

beforeAll(async () => {
  host = await bootHost('projects')
})
afterAll(async () => {
  await host?.stop()
})

const must = (cmd: string) => onHost(host, cmd)

function succeeded(run: ActionRun): void {
  if (run.outputs.status !== 'success')
    throw new Error(`the deploy did not succeed (${run.outputs.status}):\n${run.stdout}`)
  expect(run.code).toBe(0)
}

/** GET through nginx with this Host, the answer as JSON. */
async function json(path: string, hostName: string): Promise<Record<string, unknown>> {
  const page = await get(host, path, { Host: hostName })
  if (page.status !== 200)
    throw new Error(`${path} answered ${page.status}: ${page.text.slice(0, 500)}`)
  return JSON.parse(page.text)
}

/** What the deploy said it kept in shared/ (the notice). */
const keptNotice = (run: ActionRun) =>
  annotations(run.stdout, 'notice').find((a) => a.title === 'Kept in shared/')?.message ?? ''

describe('startproject, untouched: server-name _, DEBUG = True, ALLOWED_HOSTS = [], SQLite in BASE_DIR', () => {
  const inputs = (overrides: Record<string, string> = {}) =>
    deployInputs(host, { source: '.', 'health-path': '/status/', ...overrides })
  // With ALLOWED_HOSTS = [] and DEBUG = True, Django answers localhost only: the catch-all site
  // is what a visitor of the bare server gets, and the health check asks for localhost.
  const status = () => json('/status/', 'localhost')
  /** A row written as the app writes them: as the app user, in the live release. */
  const createUser = (name: string) =>
    must(
      `runuser -u mysite -- sh -c 'cd /srv/mysite/current && DJANGO_SETTINGS_MODULE=mysite.settings ` +
        `.venv/bin/python manage.py shell -c "from django.contrib.auth.models import User; User.objects.create_user(\\"${name}\\")"'`
    )
  let first = ''

  test('deploys on the first try; db.sqlite3 is kept in shared/, with a notice', async () => {
    const run = await runAction(inputs(), {
      env: newCommit(),
      workspace: checkout('startproject', 'v1')
    })
    succeeded(run)
    first = run.outputs.release
    expect(await status()).toEqual({ users: 0, version: 'v1' })
    expect(keptNotice(run)).toContain(
      'db.sqlite3 (the SQLite database in DATABASES) is inside the release: kept in /srv/mysite/shared/db.sqlite3'
    )
    expect(await must(`readlink /srv/mysite/releases/${first}/db.sqlite3`)).toBe(
      '/srv/mysite/shared/db.sqlite3\n'
    )
    expect(await must('stat -c %U /srv/mysite/shared/db.sqlite3')).toBe('mysite\n')
    // startproject sets no STATIC_ROOT: said, not skipped in silence.
    expect(
      annotations(run.stdout, 'notice').find((a) => a.title === 'No static files')?.message
    ).toContain('STATIC_ROOT is not set')
  })

  test('rows written after a deploy survive the next release and a rollback', async () => {
    await createUser('alice')
    expect(await status()).toEqual({ users: 1, version: 'v1' })

    const second = await runAction(inputs(), {
      env: newCommit(),
      workspace: checkout('startproject', 'v2')
    })
    succeeded(second)
    expect(second.outputs.release).not.toBe(first)
    expect(await status()).toEqual({ users: 1, version: 'v2' })
    await createUser('bob')
    expect(await status()).toEqual({ users: 2, version: 'v2' })

    const back = await runAction(inputs({ rollback: 'true' }), { env: newCommit() })
    succeeded(back)
    expect(back.outputs.release).toBe(first)
    expect(await status()).toEqual({ users: 2, version: 'v1' })
  })
})

/** POST a file as a browser's form sends it (multipart/form-data). */
function upload(
  path: string,
  hostName: string,
  file: { name: string; text: string }
): Promise<{ status: number; text: string }> {
  const boundary = 'dda-boundary-7d3f'
  const body = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\n` +
      `Content-Type: text/plain\r\n\r\n${file.text}\r\n--${boundary}--\r\n`
  )
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: host.address,
        port: 80,
        path,
        method: 'POST',
        timeout: 10000,
        headers: {
          Host: hostName,
          'Content-Type': `multipart/form-data; boundary=${boundary}`,
          'Content-Length': body.length
        }
      },
      (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => (text += chunk.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      }
    )
    req.on('timeout', () => req.destroy(new Error(`POST ${path} timed out`)))
    req.on('error', reject)
    req.end(body)
  })
}

describe('a project in src/ with split settings and MEDIA_ROOT inside the code', () => {
  const NAME = 'subfolder.test'
  const inputs = (overrides: Record<string, string> = {}) =>
    deployInputs(host, {
      'project-name': 'shop',
      source: 'src',
      'settings-module': 'config.settings.production',
      'wsgi-module': 'config.wsgi:application',
      requirements: 'requirements/production.txt',
      'server-name': NAME,
      'health-path': '/status/',
      dotenv: `DJANGO_SECRET_KEY=subfolder-secret-key-for-the-tests\nDJANGO_ALLOWED_HOSTS=${NAME}`,
      ...overrides
    })
  /** An uploaded file as a visitor gets it: from nginx, at the URL the app answered. */
  const served = async (url: string) => {
    const page = await get(host, url, { Host: NAME })
    return { status: page.status, text: page.text, server: page.headers.get('server') }
  }
  let first = ''
  let firstUrl = ''

  test('deploys with its production settings; an upload is served by nginx from shared/', async () => {
    const run = await runAction(inputs(), {
      env: newCommit(),
      workspace: checkout('subfolder', 'v1', 'src/VERSION')
    })
    succeeded(run)
    first = run.outputs.release
    expect(await json('/status/', NAME)).toEqual({
      settings: 'config.settings.production',
      version: 'v1'
    })
    // requirements/production.txt was found in src/ and installed (pip found Django and gunicorn
    // in Debian's packages), by pip run from its wheel: the venv itself has no pip.
    expect(run.stdout).toMatch(/^installed requirements\/production\.txt$/m)
    expect(await must('ls /srv/shop/current/.venv/bin/')).not.toMatch(/^pip/m)
    const notice = keptNotice(run)
    expect(notice).toContain(
      'media (MEDIA_ROOT) is inside the release: kept in /srv/shop/shared/media'
    )
    expect(notice).toContain('db.sqlite3 (the SQLite database in DATABASES) is inside the release')

    const answer = await upload('/upload/', NAME, { name: 'first.txt', text: 'uploaded to v1\n' })
    expect(answer.status).toBe(201)
    firstUrl = (JSON.parse(answer.text) as { url: string }).url
    expect(firstUrl).toBe('/media/uploads/first.txt')
    expect(await served(firstUrl)).toEqual({
      status: 200,
      text: 'uploaded to v1\n',
      server: expect.stringMatching(/^nginx/)
    })
    expect(await must('cat /srv/shop/shared/media/uploads/first.txt')).toBe('uploaded to v1\n')
  })

  test('uploads are still served after the next release and after a rollback', async () => {
    const second = await runAction(inputs(), {
      env: newCommit(),
      workspace: checkout('subfolder', 'v2', 'src/VERSION')
    })
    succeeded(second)
    expect((await json('/status/', NAME)).version).toBe('v2')
    expect(await served(firstUrl)).toMatchObject({ status: 200, text: 'uploaded to v1\n' })
    const answer = await upload('/upload/', NAME, { name: 'second.txt', text: 'uploaded to v2\n' })
    expect(answer.status).toBe(201)
    const secondUrl = (JSON.parse(answer.text) as { url: string }).url

    const back = await runAction(inputs({ rollback: 'true' }), { env: newCommit() })
    succeeded(back)
    expect(back.outputs.release).toBe(first)
    expect((await json('/status/', NAME)).version).toBe('v1')
    expect(await served(firstUrl)).toMatchObject({ status: 200, text: 'uploaded to v1\n' })
    expect(await served(secondUrl)).toMatchObject({ status: 200, text: 'uploaded to v2\n' })
  })
})

describe('django-compressor', () => {
  /**
   * startproject with django-compressor as its documentation sets it up: the app, its finder,
   * STATIC_ROOT, and a template whose CSS is compressed.
   */
  function compressorProject(offline: boolean, name: string): string {
    const workspace = checkout('startproject', offline ? 'offline' : 'online')
    edit(
      workspace,
      'mysite/settings.py',
      (text) =>
        `${text}
DEBUG = False
ALLOWED_HOSTS = ['${name}']
INSTALLED_APPS += ['compressor']
STATICFILES_FINDERS = [
    'django.contrib.staticfiles.finders.FileSystemFinder',
    'django.contrib.staticfiles.finders.AppDirectoriesFinder',
    'compressor.finders.CompressorFinder',
]
STATICFILES_DIRS = [BASE_DIR / 'static']
STATIC_ROOT = BASE_DIR / 'staticfiles'
TEMPLATES[0]['DIRS'] = [BASE_DIR / 'templates']
COMPRESS_ENABLED = True
COMPRESS_OFFLINE = ${offline ? 'True' : 'False'}
`
    )
    edit(workspace, 'mysite/urls.py', (text) =>
      text
        .replace(
          'from django.urls import path\n',
          'from django.urls import path\nfrom django.views.generic import TemplateView\n'
        )
        .replace(
          'urlpatterns = [\n',
          "urlpatterns = [\n    path('', TemplateView.as_view(template_name='home.html')),\n"
        )
    )
    mkdirSync(join(workspace, 'static'))
    writeFileSync(join(workspace, 'static', 'site.css'), 'body {\n    color: #123456;\n}\n')
    mkdirSync(join(workspace, 'templates'))
    writeFileSync(
      join(workspace, 'templates', 'home.html'),
      `{% load static compress %}<!doctype html>
<html>
<head>
<title>compressed</title>
{% compress css %}
<link rel="stylesheet" href="{% static 'site.css' %}">
<style>p { margin: 0; }</style>
{% endcompress %}
</head>
<body><p>Hello</p></body>
</html>
`
    )
    return workspace
  }

  const inputs = (project: string, name: string) =>
    deployInputs(host, {
      'project-name': project,
      'wsgi-module': 'mysite.wsgi:application',
      'settings-module': 'mysite.settings',
      source: '.',
      'server-name': name,
      'health-path': '/status/'
    })

  /** The page, and the compressed CSS it links, as a visitor gets them. */
  async function pageAndCss(name: string) {
    const page = await get(host, '/', { Host: name })
    const href = /href="(\/static\/CACHE\/css\/[^"]+\.css)"/.exec(page.text)?.[1]
    const css = href ? await get(host, href, { Host: name }) : undefined
    return { page, href, css }
  }

  test('offline (COMPRESS_OFFLINE = True): compress runs before the switch, every page answers 200', async () => {
    const name = 'offline.test'
    const run = await runAction(inputs('offline', name), {
      env: newCommit(),
      workspace: compressorProject(true, name)
    })
    succeeded(run)
    // In the one Django process, after collectstatic.
    expect(run.stdout).toMatch(/::group::manage\.py [^\n]*collectstatic, compress --force\n/)
    expect((await get(host, '/status/', { Host: name })).status).toBe(200)
    const { page, href, css } = await pageAndCss(name)
    expect(page.status).toBe(200)
    expect(href).toBeDefined()
    expect(css?.status).toBe(200)
    expect(css?.headers.get('server')).toMatch(/^nginx/)
    expect(css?.text).toContain('#123456')
  })

  test('online (COMPRESS_OFFLINE = False): the page answers 200, nginx serves the file it links from shared/', async () => {
    const name = 'online.test'
    const run = await runAction(inputs('online', name), {
      env: newCommit(),
      workspace: compressorProject(false, name)
    })
    succeeded(run)
    expect(keptNotice(run)).toContain(
      "staticfiles/CACHE (django-compressor's online cache) is inside the release: kept in /srv/online/shared/staticfiles/CACHE"
    )
    const { page, href, css } = await pageAndCss(name)
    expect(page.status).toBe(200)
    expect(href).toBeDefined()
    expect(css?.status).toBe(200)
    expect(css?.headers.get('server')).toMatch(/^nginx/)
    expect(css?.text).toContain('#123456')
    // Written at run time by the app, into shared/: the next release links the same folder.
    expect(await must(`ls /srv/online/shared/staticfiles/CACHE/css/`)).toContain(
      href?.split('/').pop() ?? '?'
    )
  })
})

// ASGI: the inputs (asgi-module, asgi-server, proxy-read-timeout, drain-timeout), gunicorn's
// worker class and drain in the unit, the WebSocket upgrade in the site, the import step before
// the switch, what it reports, and the summary and outputs that say which server runs.

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { settingsFor, refusalOf } from './settings-fixture.js'
import { Input } from '../src/constants.js'
import { describeServer, workerClass } from '../src/asgi.js'
import { renderService } from '../src/render/gunicorn.js'
import { renderSite } from '../src/render/nginx.js'
import { summaryMarkdown, type HostReport } from '../src/report/report.js'
import {
  asgiImportStep,
  closesWebSocketsCleanly,
  describeVersions,
  parseServerFacts
} from '../src/server/asgi.js'
import { djangoSteps } from '../src/server/django.js'
import { readSettings } from '../src/inputs/settings.js'
import type { Settings } from '../src/settings.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'asgi-'))
  writeFileSync(join(dir, 'manage.py'), '')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')])
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function read(overrides: Record<string, string>): Settings {
  const values: Record<string, string> = {
    host: 'app1.example.com',
    username: 'deploy',
    key: readFileSync(join(dir, 'key'), 'utf8'),
    'insecure-skip-host-key-check': 'true',
    'project-name': 'mysite',
    ...overrides
  }
  return readSettings({ getInput: (name) => values[name] ?? '', workspace: dir })
}

const refused = (overrides: Record<string, string>) => refusalOf(() => read(overrides), overrides)

const asgi = (overrides: Partial<Settings> = {}) =>
  settingsFor({ asgiModule: 'mysite.asgi:application', proxyReadTimeoutS: 3600, ...overrides })

const execStart = (s: Settings) =>
  /^ExecStart=(.*)$/m.exec(renderService(s, { appRoot: '/srv/mysite/current', workers: 3 }))?.[1]

describe('inputs', () => {
  test('by default WSGI, a drain of 30 s; asgi-module makes it ASGI with uvicorn and an hour of idle socket', () => {
    const wsgi = read({})
    expect(wsgi.asgiModule).toBeUndefined()
    expect(wsgi.proxyReadTimeoutS).toBeUndefined()
    expect(wsgi.drainTimeoutS).toBe(30)
    const s = read({ 'asgi-module': 'config.asgi:app', 'drain-timeout': '90' })
    expect(s).toMatchObject({
      asgiModule: 'config.asgi:app',
      asgiServer: 'uvicorn',
      proxyReadTimeoutS: 3600,
      drainTimeoutS: 90
    })
    expect(read({ 'asgi-module': 'config.asgi', 'proxy-read-timeout': '86400' })).toMatchObject({
      asgiModule: 'config.asgi',
      proxyReadTimeoutS: 86400
    })
    expect(read({ 'asgi-module': 'mysite.asgi', 'asgi-server': 'uvicorn-h11' }).asgiServer).toBe(
      'uvicorn-h11'
    )
  })

  test.each([
    'mysite.asgi:application; rm -rf /',
    'mysite asgi',
    'mysite/asgi.py',
    'mysite.asgi:get_app()',
    '$(id)'
  ])('asgi-module %j is refused, naming the input', (text) => {
    const error = refused({ 'asgi-module': text })
    expect(error.input).toBe(Input.AsgiModule)
    expect(error.message).toContain('must be module.path:variable, e.g. mysite.asgi:application')
  })

  test('an ASGI server that is not known is refused with the ones that are', () => {
    expect(refused({ 'asgi-server': 'daphne' }).message).toBe(
      "Input 'asgi-server': 'daphne' is not one of uvicorn, uvicorn-h11"
    )
  })

  test('asgi-module with wsgi-module, or proxy-read-timeout without it, is refused', () => {
    expect(
      refused({ 'asgi-module': 'mysite.asgi:application', 'wsgi-module': 'mysite.wsgi' }).input
    ).toBe(Input.AsgiModule)
    expect(refused({ 'proxy-read-timeout': '600' }).message).toContain(
      'applies to an ASGI project only (set asgi-module)'
    )
    expect(refused({ 'asgi-module': 'mysite.asgi', 'proxy-read-timeout': '0' }).message).toContain(
      "Input 'proxy-read-timeout': must be from 1 to 604800"
    )
    expect(refused({ 'drain-timeout': '-1' }).input).toBe(Input.DrainTimeout)
    expect(refused({ 'drain-timeout': '3601' }).input).toBe(Input.DrainTimeout)
  })
})

describe('the unit', () => {
  test("ASGI: uvicorn's worker class before gunicorn-args, the ASGI module last", () => {
    expect(execStart(asgi())).toBe(
      '/srv/mysite/current/.venv/bin/python -m gunicorn --workers 3 --worker-class uvicorn.workers.UvicornWorker mysite.asgi:application'
    )
    expect(execStart(asgi({ asgiServer: 'uvicorn-h11', gunicornArgs: ['--timeout', '60'] }))).toBe(
      '/srv/mysite/current/.venv/bin/python -m gunicorn --workers 3 --worker-class uvicorn.workers.UvicornH11Worker --timeout 60 mysite.asgi:application'
    )
  })

  test('WSGI with the default drain: the command line is as before', () => {
    expect(execStart(settingsFor())).toBe(
      '/srv/mysite/current/.venv/bin/python -m gunicorn --workers 3 mysite.wsgi:application'
    )
  })

  test("drain-timeout is gunicorn's graceful timeout, and systemd waits 5 s more", () => {
    const unit = renderService(settingsFor({ drainTimeoutS: 90 }), {
      appRoot: '/srv/mysite/current',
      workers: 3
    })
    expect(unit).toContain('--graceful-timeout 90 mysite.wsgi:application')
    expect(unit).toContain('TimeoutStopSec=95')
    // A --graceful-timeout of gunicorn-args comes after it, and wins in gunicorn and here.
    expect(
      renderService(settingsFor({ drainTimeoutS: 90, gunicornArgs: ['--graceful-timeout=10'] }), {
        appRoot: '/srv/mysite/current',
        workers: 3
      })
    ).toContain('TimeoutStopSec=15')
  })

  test.each([
    [[], 'uvicorn.workers.UvicornWorker'],
    [['-k', 'mysite.workers.UvicornWorker'], 'mysite.workers.UvicornWorker'],
    [['-kmysite.workers.W'], 'mysite.workers.W'],
    [['--worker-class=a.B'], 'a.B'],
    [['--worker-cl', 'a.C', '--timeout', '5'], 'a.C'],
    [['--worker-connections', '100'], 'uvicorn.workers.UvicornWorker']
  ])('gunicorn-args %j: the worker class is %s', (args, expected) => {
    expect(workerClass(asgi({ gunicornArgs: args }))).toBe(expected)
  })

  test('a WSGI project runs the sync worker unless gunicorn-args name another', () => {
    expect(workerClass(settingsFor())).toBe('sync')
    expect(workerClass(settingsFor({ gunicornArgs: ['-k', 'gthread'] }))).toBe('gthread')
    expect(describeServer(settingsFor())).toBe(
      'gunicorn with sync workers (WSGI: mysite.wsgi:application)'
    )
  })
})

describe('the site', () => {
  test('ASGI: an http-level map named after the project, and the upgrade passed on the proxied path', () => {
    const site = renderSite(asgi({ proxyReadTimeoutS: 600 }))
    expect(site).toContain(
      [
        'map $http_upgrade $connection_upgrade_mysite {',
        '    default upgrade;',
        "    '' '';",
        '}'
      ].join('\n')
    )
    const location = /location \/ \{\n([\s\S]*?)\n {4}\}/.exec(site)?.[1] ?? ''
    expect(location.split('\n').map((l) => l.trim())).toEqual([
      'proxy_set_header Host $http_host;',
      'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      'proxy_set_header X-Forwarded-Proto $scheme;',
      'proxy_set_header X-Real-IP $remote_addr;',
      'proxy_redirect off;',
      'proxy_http_version 1.1;',
      'proxy_set_header Upgrade $http_upgrade;',
      'proxy_set_header Connection $connection_upgrade_mysite;',
      'proxy_read_timeout 600s;',
      'proxy_pass http://gunicorn_mysite;'
    ])
    // Outside every server block: a map is not allowed inside one.
    expect(site.indexOf('map $http_upgrade')).toBeLessThan(site.indexOf('server {'))
  })

  test('WSGI: plain HTTP as before, no map, no upgrade', () => {
    const site = renderSite(settingsFor())
    expect(site).not.toMatch(/map |Upgrade|proxy_http_version|proxy_read_timeout/)
  })
})

describe('the import step', () => {
  test('imports the application with the worker class as the app user in the release, before migrate', () => {
    const s = asgi()
    const steps = djangoSteps(s, '20261125T081500Z-1a2b3c4', {})
    expect(steps.map((step) => step.id)).toEqual(['asgi-import', 'django'])
    const step = asgiImportStep(s, '20261125T081500Z-1a2b3c4', ['/srv/mysite/shared'])
    expect(step.title).toBe(
      "Import mysite.asgi:application with gunicorn's uvicorn.workers.UvicornWorker"
    )
    expect(step.command.text).toContain('--uid=mysite')
    // The script travels base64-encoded on stdin: the worker class and the module are its words.
    const body = Buffer.from(/printf %s (\S+)/.exec(step.command.text)![1], 'base64').toString()
    expect(body).toMatch(/ uvicorn\.workers\.UvicornWorker 'mysite\.asgi:application'$/m)
    expect(djangoSteps(settingsFor(), '20261125T081500Z-1a2b3c4', {}).map((x) => x.id)).toEqual([
      'django'
    ])
  })

  test('what it prints: versions, the WebSocket library, and whether a restart closes sockets cleanly', () => {
    const line = (facts: object) => `noise\nASGI-SERVER ${JSON.stringify(facts)}\n`
    const old = parseServerFacts(
      line({
        worker: 'uvicorn.workers.UvicornWorker',
        gunicorn: '20.1.0',
        uvicorn: '0.17.6',
        ws: 'websockets',
        wsVersion: '10.4'
      })
    )!
    expect(describeVersions(old)).toBe(
      'gunicorn 20.1.0, uvicorn 0.17.6, WebSockets by websockets 10.4'
    )
    expect(closesWebSocketsCleanly(old)).toBe(false)
    expect(closesWebSocketsCleanly({ ...old, ws: 'wsproto' })).toBe(true)
    expect(closesWebSocketsCleanly({ ...old, uvicorn: '0.21.0' })).toBe(true)
    expect(closesWebSocketsCleanly({ ...old, uvicorn: '0.32.0' })).toBe(true)
    expect(closesWebSocketsCleanly({ ...old, ws: 'none' })).toBeUndefined()
    expect(closesWebSocketsCleanly({ ...old, uvicorn: '' })).toBeUndefined()
    // Server text shown in the summary: only version-like words.
    expect(parseServerFacts(line({ gunicorn: '1 <script>', uvicorn: '0.1' }))?.gunicorn).toBe('?')
    expect(parseServerFacts('no marker')).toBeUndefined()
  })
})

describe('the summary', () => {
  test('says which server and mode run, and what the import step found on each host', () => {
    const report: HostReport = {
      host: 'app1.example.com',
      release: 'r2',
      previousRelease: 'r1',
      status: 'success',
      gates: [],
      phaseMs: {},
      durationMs: 1000,
      message: '',
      server: {
        worker: 'uvicorn.workers.UvicornWorker',
        gunicorn: '23.0.0',
        uvicorn: '0.32.0',
        ws: 'websockets',
        wsVersion: '15.0.1'
      }
    }
    const summary = summaryMarkdown(asgi(), [report])
    expect(summary).toContain(
      'Served by gunicorn with uvicorn.workers.UvicornWorker (ASGI: mysite.asgi:application), WebSockets passed through nginx'
    )
    expect(summary).toContain(
      'app1.example.com: gunicorn 23.0.0, uvicorn 0.32.0, WebSockets by websockets 15.0.1'
    )
    expect(summaryMarkdown(settingsFor(), [{ ...report, server: undefined }])).toContain(
      'Served by gunicorn with sync workers (WSGI: mysite.wsgi:application)\n'
    )
  })
})

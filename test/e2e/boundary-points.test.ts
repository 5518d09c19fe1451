// The smaller points of the root boundary (issue 27, point 5), each as a user meets it on a real
// host: settings that would hand the app its own code (the release, its venv) or the live
// release's static files, inputs that name the action's own folders, a COMPRESS_OUTPUT_DIR that
// leaves the cache folder, an app user that is a system account or in a privileged group, one
// project's lock holder and another project's steps, and the links the app plants in its media.
// A refusal names the setting or input and what to do, and the site goes on serving the release
// that was live. One host; the projects mysite, shop, shop_api and shopapp on it.
import type { ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type ActionRun, runAction } from './action.js'
import {
  annotations,
  deployInputs,
  edit,
  get,
  health,
  newCommit,
  onHost,
  sshdLinesAfter,
  workspaceWith
} from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost
const must = (cmd: string) => onHost(host, cmd)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The release mysite serves now, set by the first deploy. */
let live = ''

beforeAll(async () => {
  host = await bootHost('points')
  const first = await runAction(deployInputs(host), {
    env: newCommit(),
    workspace: workspaceWith('v1').workspace
  })
  succeeded(first)
  live = first.outputs.release
})
afterAll(async () => {
  await host?.stop()
})

function succeeded(run: ActionRun): void {
  if (run.outputs.status !== 'success')
    throw new Error(`the deploy did not succeed (${run.outputs.status}):\n${run.stdout}`)
}

/** Every error annotation's text, as the run's page shows them. */
const errors = (run: ActionRun) =>
  annotations(run.stdout, 'error')
    .map((a) => `${a.title ? `${a.title}: ` : ''}${a.message}`)
    .join('\n')

/** The journal's position now, to read only what comes after it. */
async function journalCursor(): Promise<string> {
  const cursor = /^-- cursor: (\S+)$/m.exec(
    await must('journalctl -n 1 --show-cursor --no-pager -o cat')
  )?.[1]
  if (!cursor) throw new Error('no journal cursor on the host')
  return cursor
}

/** The notes migrations the live database has applied, read as root, never through the app. */
const appliedNotes = () =>
  must(
    `python3 - <<'EOF'
import sqlite3
db = sqlite3.connect('file:/srv/mysite/shared/db.sqlite3?mode=ro', uri=True)
print(' '.join(r[0] for r in db.execute("select name from django_migrations where app = 'notes' order by name")))
EOF`
  ).then((text) => text.trim())

/** A migration the refused versions bring: were anything run, migrate would apply it. */
const MIGRATION = `from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [('notes', '0001_initial')]
    operations = [migrations.AddField('note', 'flag', models.BooleanField(default=False))]
`

/** The mysite fixture with a new migration and these lines at the end of its settings. */
function withSettings(version: string, lines: string): string {
  const { workspace, project } = workspaceWith(version)
  writeFileSync(join(project, 'notes/migrations/0002_note_flag.py'), MIGRATION)
  edit(project, 'mysite/settings.py', (text) => `${text}\n${lines}\n`)
  return workspace
}

/**
 * A deploy of settings the plan refuses: it fails with `message` in its error annotation, the
 * new migration is not applied, and the site and `current` are the live release's.
 */
async function refusedSettings(version: string, lines: string, message: RegExp) {
  const before = await appliedNotes()
  expect(before).toBe('0001_initial')
  const run = await runAction(deployInputs(host), {
    env: newCommit(),
    workspace: withSettings(version, lines)
  })
  expect(run.outputs.status).toBe('failure')
  expect(errors(run)).toMatch(message)
  expect(await appliedNotes()).toBe(before)
  expect((await health(host)).release).toBe(live)
  expect(await must('readlink /srv/mysite/current')).toBe(`releases/${live}\n`)
  return run
}

describe("settings that would give the app its own code, or the live release's static files", () => {
  // The release and its venv are root's: the app owning them could change the code it runs,
  // the code root byte-compiles and links the next release from.
  test.each([
    [
      'MEDIA_ROOT = BASE_DIR (the release itself)',
      'MEDIA_ROOT = BASE_DIR',
      /MEDIA_ROOT in the project's settings is \/srv\/mysite\/releases\/[^/\s]+, the release itself: the app would own its own code; refused before anything ran\. Put it under \/srv\/mysite\/shared/
    ],
    [
      "MEDIA_ROOT = BASE_DIR / '.venv'",
      "MEDIA_ROOT = BASE_DIR / '.venv'",
      /MEDIA_ROOT in the project's settings is \/srv\/mysite\/releases\/[^/\s]+\/\.venv, in the release's venv \(\.venv\): the app would own the code it runs; refused before anything ran\. Put it under \/srv\/mysite\/shared/
    ],
    [
      "a SQLite NAME in .venv (BASE_DIR / '.venv' / 'db.sqlite3')",
      "DATABASES['default']['NAME'] = BASE_DIR / '.venv' / 'db.sqlite3'",
      /the SQLite database in DATABASES in the project's settings is \/srv\/mysite\/releases\/[^/\s]+\/\.venv\/db\.sqlite3, in the release's venv \(\.venv\): the app would own the code it runs; refused before anything ran\. Keep it in a folder of its own/
    ]
  ])(
    '%s: refused before anything runs, no migration applied, the live release still serves',
    async (_, lines, message) => {
      await refusedSettings('own-code', lines, message)
    }
  )

  // A project's BASE_DIR.parent / 'static' is <deploy>/releases/static: one folder for every
  // release, which collectstatic would rewrite under the live release before the switch.
  test("STATIC_ROOT = BASE_DIR.parent / 'static': refused with what to do instead, nothing made at releases/static", async () => {
    await refusedSettings(
      'releases-static',
      "STATIC_ROOT = BASE_DIR.parent / 'static'",
      /STATIC_ROOT in the project's settings is \/srv\/mysite\/releases\/static, in \/srv\/mysite\/releases\/ but in no release: every release would use it at once.*refused before anything ran\. Keep STATIC_ROOT in the project \(BASE_DIR \/ 'staticfiles'/
    )
    expect((await host.exec('test -e /srv/mysite/releases/static')).code).toBe(1)
    expect((await get(host, '/static/notes/site.css')).status).toBe(200)
  })

  // django-compressor as its documentation sets it up, with its cache folder named '..': the
  // cache the app writes at run time would be the static root's parent.
  test("COMPRESS_OUTPUT_DIR = '..' with django-compressor enabled: refused, with what to name instead", async () => {
    await refusedSettings(
      'compress-dotdot',
      [
        "INSTALLED_APPS += ['compressor']",
        'STATICFILES_FINDERS = [',
        "    'django.contrib.staticfiles.finders.FileSystemFinder',",
        "    'django.contrib.staticfiles.finders.AppDirectoriesFinder',",
        "    'compressor.finders.CompressorFinder',",
        ']',
        'COMPRESS_ENABLED = True',
        "COMPRESS_OUTPUT_DIR = '..'"
      ].join('\n'),
      /COMPRESS_OUTPUT_DIR in the project's settings '\.\.' is not a folder below COMPRESS_ROOT.*refused before anything ran\. Leave it unset \(CACHE, its default\) or name a folder of its own/
    )
  })
})

describe("inputs that name the action's own folders", () => {
  // backups/ holds the database's backups and acme/ the challenges certbot answers: root's.
  test('static-root, media-root and writable-paths in <deploy>/backups or <deploy>/acme: refused before anything is sent, the input named', async () => {
    const cursor = await journalCursor()
    const cases: Array<[string, string]> = [
      ['static-root', '/srv/mysite/backups/x'],
      ['media-root', '/srv/mysite/acme'],
      ['writable-paths', '/srv/mysite/backups/x'],
      ['writable-paths', '/srv/mysite/acme']
    ]
    for (const [input, path] of cases) {
      const run = await runAction(deployInputs(host, { [input]: path }), {
        env: newCommit(),
        workspace: workspaceWith('own-folders').workspace
      })
      expect(run.outputs.status).toBe('failure')
      expect(errors(run)).toContain(
        `Input '${input}': ${path} is a folder the deploy keeps (releases, shared, `
      )
      expect(errors(run)).toContain('use one of its own, e.g. /srv/mysite/shared/media')
    }
    // No connection reached the host (journald may store sshd's lines a moment late).
    await sleep(1000)
    expect(await sshdLinesAfter(host, cursor)).toEqual([])
    expect((await host.exec('ls /srv/mysite/backups/x /srv/mysite/acme')).code).not.toBe(0)
    expect((await health(host)).release).toBe(live)
  })
})

describe('the app user', () => {
  // nginx's www-data reads every site's files, root is root, postgres owns the databases.
  test('www-data, root and postgres: refused by the input check, before connecting', async () => {
    const cursor = await journalCursor()
    for (const user of ['www-data', 'root', 'postgres']) {
      const run = await runAction(deployInputs(host, { 'app-user': user }), {
        env: newCommit(),
        workspace: workspaceWith('system-user').workspace
      })
      expect(run.outputs.status).toBe('failure')
      expect(errors(run)).toContain(`Input 'app-user': must not be ${user}: `)
    }
    await sleep(1000)
    expect(await sshdLinesAfter(host, cursor)).toEqual([])
  })

  // A name no list knows, but the host's account is in sudo: only the host can tell.
  test('an existing user in the group sudo: the prepare step refuses it, naming the group, and nothing is deployed', async () => {
    await must(
      'useradd --system --user-group --no-create-home --shell /usr/sbin/nologin shopapp && usermod -aG sudo shopapp'
    )
    const run = await runAction(
      deployInputs(host, {
        'project-name': 'shopapp',
        'settings-module': 'mysite.settings',
        'wsgi-module': 'mysite.wsgi:application',
        'server-name': 'shopapp.test'
      }),
      { env: newCommit(), workspace: workspaceWith('sudoer').workspace }
    )
    expect(run.outputs.status).toBe('failure')
    // The prepare step's check runs first in the upload's step: the error names that step.
    expect(errors(run)).toContain(
      'app-user shopapp is in the group sudo: the app user must be a user of its own, in no other group; ' +
        'remove it from the group (gpasswd -d shopapp sudo), or choose another app-user'
    )
    // No release, no shared/ for it, no site, no service; the user as it was.
    expect(await must('ls -A /srv/shopapp/releases 2>/dev/null || true')).toBe('')
    expect((await host.exec('test -e /srv/shopapp/shared')).code).toBe(1)
    expect(
      await must('ls /etc/nginx/sites-enabled /etc/systemd/system | grep shopapp || true')
    ).toBe('')
    expect(await must('id -Gn shopapp')).toBe('shopapp sudo\n')
    expect((await health(host)).release).toBe(live)
  })
})

describe('two projects on one host, shop and shop_api', () => {
  const inputs = (project: string, overrides: Record<string, string> = {}) =>
    deployInputs(host, {
      'project-name': project,
      'settings-module': 'mysite.settings',
      'wsgi-module': 'mysite.wsgi:application',
      'server-name': project === 'shop' ? 'shop.test' : 'api.shop.test',
      ...overrides
    })
  /** The running transient units (dda-<project>-<step>-<pid>.service) matching a pattern. */
  const running = async (pattern: string) =>
    (await must(`systemctl list-units --no-legend --plain --state=running '${pattern}' || true`))
      .split('\n')
      .map((line) => line.split(/\s+/)[0])
      .filter(Boolean)

  // shop's lock holder, when its run is killed, stops dda-shop-*.service: the steps that run
  // left. shop_api's steps are dda-shop_api-...: another project's, which it must leave alone.
  test("shop's lock holder, after its run is killed, stops shop's steps and not shop_api's: shop_api's deploy goes on and goes live", async () => {
    // Both first deploys start together. shop_api's pre-restart waits for a file the test makes
    // once it is done (up to 5 minutes): it runs for as long as the test needs it to, on a loaded
    // machine too. A step's output reaches the runner's log when the step ends, so the host says
    // when both hooks run: their units. Then shop's runner is killed.
    const go = '/srv/shop_api/shared/go'
    const api = runAction(
      inputs('shop_api', {
        'pre-restart': `echo api-hook-started; i=0; while [ ! -e ${go} ] && [ $i -lt 1500 ]; do sleep 0.2; i=$((i+1)); done`
      }),
      { env: newCommit(), workspace: workspaceWith('api-v1').workspace }
    )
    let shop: ChildProcess | undefined
    const killed = runAction(
      inputs('shop', { 'pre-restart': 'echo shop-hook-started; sleep 300' }),
      {
        env: newCommit(),
        workspace: workspaceWith('shop-killed').workspace,
        onStdout: (_, child) => (shop = child)
      }
    )
    const hooks = async () => ({
      shop: (await running('dda-shop-*')).filter((unit) => unit.includes('pre-restart')),
      api: (await running('dda-shop_api-*')).filter((unit) => unit.includes('pre-restart'))
    })
    let units = await hooks()
    for (let i = 0; i < 600 && !(units.shop.length && units.api.length); i++) {
      await sleep(250)
      units = await hooks()
    }
    expect(units).toEqual({
      shop: [expect.stringMatching(/^dda-shop-pre-restart-\d+\.service$/)],
      api: [expect.stringMatching(/^dda-shop_api-pre-restart-\d+\.service$/)]
    })
    const [apiUnit] = units.api
    shop?.kill('SIGKILL')
    expect((await killed).signal).toBe('SIGKILL')

    // shop's lock holder stops its project's steps once the connection is gone, well before
    // the 300 s of its hook.
    let shopUnits = ['?']
    for (let i = 0; i < 80 && shopUnits.length > 0; i++) {
      shopUnits = await running('dda-shop-*')
      if (shopUnits.length > 0) await sleep(250)
    }
    expect(shopUnits).toEqual([])
    expect(await must("pgrep -fx 'sleep 300' || true")).toBe('')
    // shop_api's hook still runs.
    expect(await must(`systemctl is-active ${apiUnit} || true`)).toBe('active\n')

    // Let shop_api's hook end; the next shop deploy takes shop's lock, and both go live.
    await must(`touch ${go}`)
    const [apiRun, next] = await Promise.all([
      api,
      runAction(inputs('shop'), {
        env: newCommit(),
        workspace: workspaceWith('shop-v1').workspace
      })
    ])
    succeeded(apiRun)
    succeeded(next)
    expect(apiRun.stdout).toContain('api-hook-started')
    expect(JSON.parse((await get(host, '/healthz', { Host: 'shop.test' })).text)).toMatchObject({
      release: next.outputs.release,
      version: 'shop-v1'
    })
    expect(JSON.parse((await get(host, '/healthz', { Host: 'api.shop.test' })).text)).toMatchObject(
      { release: apiRun.outputs.release, version: 'api-v1' }
    )
  })
})

describe('links the app plants in what nginx serves', () => {
  // The app writes its media folder: a link there must not make nginx hand out what nginx
  // (www-data) may read and the app may not: its logs, another site's media, system files.
  test("a link in the media folder to /etc/passwd, to nginx's log, to /etc, to another project's media: never served; a file the app wrote is", async () => {
    const media = '/srv/mysite/shared/media'
    await must(`runuser -u shop -- sh -c 'echo shop-private > /srv/shop/shared/media/private.txt'`)
    await must(
      [
        `runuser -u mysite -- sh -c 'echo written-by-the-app > ${media}/real.txt'`,
        `runuser -u mysite -- ln -s /etc/passwd ${media}/passwd`,
        `runuser -u mysite -- ln -s /var/log/nginx/access.log ${media}/access.log`,
        `runuser -u mysite -- ln -s /etc ${media}/etc`,
        `runuser -u mysite -- ln -s /srv/shop/shared/media ${media}/shop`
      ].join(' && ')
    )
    // The folder link and the other project's file are readable by nginx (its own site serves
    // it): only disable_symlinks keeps them from mysite's visitors.
    expect(
      (await host.exec('runuser -u www-data -- cat /srv/shop/shared/media/private.txt')).code
    ).toBe(0)
    const real = await get(host, '/media/real.txt')
    expect({ status: real.status, text: real.text }).toEqual({
      status: 200,
      text: 'written-by-the-app\n'
    })
    const links = [
      '/media/passwd',
      '/media/access.log',
      '/media/etc/passwd',
      '/media/shop/private.txt'
    ]
    const answers: string[] = []
    for (const path of links) {
      const page = await get(host, path)
      const leaked = /root:|shop-private|GET \//.test(page.text)
      answers.push(
        `${path}: ${[403, 404].includes(page.status) && !leaked ? 'refused' : `${page.status} ${page.text.slice(0, 40)}`}`
      )
    }
    expect(answers).toEqual(links.map((path) => `${path}: refused`))
    expect((await get(host, '/media/private.txt', { Host: 'shop.test' })).status).toBe(200)
    await must(`rm -f ${media}/passwd ${media}/access.log ${media}/etc ${media}/shop`)
  })

  // The collected static files are root's: the app cannot plant a link there. Root plants one
  // in the live release's static root, as collectstatic --link or a bad build could leave it.
  test('a link in the static root to /etc/passwd: never served; the real files are', async () => {
    const link = `/srv/mysite/releases/${live}/staticfiles/passwd`
    await must(`ln -s /etc/passwd ${link}`)
    const page = await get(host, '/static/passwd')
    expect([403, 404]).toContain(page.status)
    expect(page.text).not.toMatch(/root:/)
    expect((await get(host, '/static/notes/site.css')).status).toBe(200)
    await must(`rm -f ${link}`)
  })
})

// The fault suite: a deploy interrupted at the start of a step of its plan (the runner killed,
// the SSH connection cut), then what a user checks: the site answers (the old release, or the
// new one when the switch had completed), the nginx site and units on disk are the live
// release's, a row and an upload written before are there, no lock is held, and the next deploy
// goes live. CI runs a representative subset; `npm run test:faults` runs every step × fault and
// writes RELIABILITY.md from what it saw; FAULTS=<step pattern>:<fault>,... runs those cells.
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, runAction, type ActionRun } from './action.js'
import {
  FAULTS,
  type Fault,
  injectAt,
  planTitles,
  REBOOT_STEPS,
  Relay,
  stepTitles,
  titlePattern
} from './faults.js'
import { checkout, deployInputs, edit, get, newCommit, onHost } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'
import { detached } from '../../src/server/step-script.js'
import { script, sh } from '../../src/shell.js'

const FULL = process.env.FAULTS === 'all'
// FAULTS=<step pattern>:<fault>[,...] runs those cells only (e.g. `^Move traffic:reboot`).
const CHOSEN: Array<[RegExp, Fault]> | undefined =
  process.env.FAULTS && !FULL
    ? process.env.FAULTS.split(',').map((cell) => {
        const at = cell.lastIndexOf(':')
        const fault = cell.slice(at + 1) as Fault
        if (at < 0 || !(fault in FAULTS)) throw new Error(`FAULTS: not <pattern>:<fault>: ${cell}`)
        return [new RegExp(cell.slice(0, at)), fault]
      })
    : undefined
// Where a fault hurts most, one of each kind of step: the upload, the app's own steps, the
// gate that installs configs, the switch, the health check and what comes after it.
const SUBSET: Array<[RegExp, Fault]> = [
  [/^Upload/, 'kill'],
  [/^Venv/, 'cut'],
  [/migrat/, 'kill'],
  [/^nginx -t/, 'cut'],
  [/^Start /, 'cut'],
  [/^Move traffic/, 'kill'],
  [/^Move traffic/, 'cut'],
  [/^GET /, 'cut'],
  [/^Drain /, 'kill'],
  [/^Keep the \d+ newest/, 'kill'],
  [/^Upload /, 'reboot'],
  [/^manage\.py /, 'reboot'],
  [/^Move traffic/, 'reboot']
]

const NAME = 'faults.test'
let host: TestHost
let relay: Relay
const must = (cmd: string) => onHost(host, cmd)

interface Cell {
  step: string
  fault: Fault
  /** the release `current` names after the fault: the old one, or the new one if it switched */
  live: string
  /** nginx answers, with the site and the code of that release */
  serving: boolean
  /** the nginx site and units on disk are that release's (nothing staged is live), and a boot
   * would start the instance that serves it, alone */
  configs: boolean
  /** a row and an upload written before the deploy are there */
  data: boolean
  /** no lock is held once the run is gone */
  lock: boolean
  /** the next deploy went live */
  next: boolean
  /** how long that next deploy took */
  recoverS: number
}

/** Inputs through the relay; each version its own nginx header and unit, so staged files show. */
function inputs(version: string, cell: number, overrides: Record<string, string> = {}) {
  const key = host.knownHosts.split(' ').slice(1).join(' ')
  return deployInputs(host, {
    host: '127.0.0.1',
    port: String(relay.port),
    'known-hosts': `[127.0.0.1]:${relay.port} ${key}`,
    'project-name': 'shop',
    source: 'src',
    'settings-module': 'config.settings.production',
    'wsgi-module': 'config.wsgi:application',
    requirements: 'requirements/production.txt',
    'server-name': NAME,
    'health-path': '/status/',
    dotenv: `DJANGO_SECRET_KEY=faults-secret-key-for-the-tests\nDJANGO_ALLOWED_HOSTS=${NAME}`,
    'nginx-directives': `add_header X-Version ${version} always;`,
    workers: String(1 + (cell % 2)),
    ...overrides
  })
}

const deploy = (version: string, cell: number, options: Parameters<typeof runAction>[1] = {}) =>
  runAction(inputs(version, cell), {
    env: newCommit(),
    workspace: checkout('subfolder', version, 'src/VERSION'),
    ...options
  })

function succeeded(run: ActionRun): void {
  if (run.outputs.status !== 'success')
    throw new Error(`the deploy did not succeed (${run.outputs.status}):\n${run.stdout}`)
}

/** What nginx serves now: the app's VERSION and the site's header. */
async function serving(): Promise<{ status: number; version: string; header: string }> {
  const page = await get(host, '/status/', { Host: NAME })
  const version = page.status === 200 ? (JSON.parse(page.text) as { version: string }).version : ''
  return { status: page.status, version, header: page.headers.get('x-version') ?? '' }
}

const CONFIGS =
  '/etc/nginx/sites-enabled /etc/nginx/sites-available /etc/systemd/system/gunicorn-shop*'
const configSums = () => must(`find ${CONFIGS} -type f -print0 | sort -z | xargs -0 sha256sum`)
/**
 * What the next boot starts is what serves now: the instance nginx's link names is the only one
 * enabled, the tmpfiles line makes the same link, and that instance runs the release `current` names.
 */
const bootState = () =>
  must(
    [
      'link=$(readlink /run/gunicorn-shop.sock); at=$(sed -n "s/^L+ [^ ]* - - - - //p" /etc/tmpfiles.d/gunicorn-shop.conf)',
      'i=${link##*@}; i=${i%.sock}',
      'enabled=$(for c in blue green; do systemctl is-enabled --quiet gunicorn-shop@$c.socket && systemctl is-enabled --quiet gunicorn-shop@$c.service && printf "%s " $c; done)',
      'if [ "$link" = "$at" ] && [ "$enabled" = "$i " ] && [ "$(readlink -f /srv/shop/instances/$i)" = "$(readlink -f /srv/shop/current)" ]; then echo consistent; else echo "link=$link tmpfiles=$at enabled=$enabled instance=$(readlink -f /srv/shop/instances/$i) current=$(readlink -f /srv/shop/current)"; fi'
    ].join('\n')
  )
const data = () =>
  must(
    `python3 -c "import sqlite3; print(sqlite3.connect('file:/srv/shop/shared/db.sqlite3?mode=ro', uri=True).execute('select username from auth_user').fetchall())"; cat /srv/shop/shared/media/uploads/kept.txt`
  )

/** Waits for the deploy lock to be free; false if it is still held after a while. */
async function lockFree(): Promise<boolean> {
  for (let i = 0; i < 60; i++) {
    const held = await host.exec('flock -n /srv/shop/.deploy.lock true')
    if (held.code === 0) return true
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  return false
}

let live = 'v0'
let liveConfigs = ''
let liveData = ''
let titles: string[] = []
const cells: Cell[] = []

beforeAll(async () => {
  host = await bootHost('faults')
  relay = new Relay(host.address)
  await relay.listen()
  succeeded(await deploy('v0', 0))
  // A row written by the app's own code, as the app user with the release's environment.
  await must(
    `set -a && . /srv/shop/.deploy/env && cd /srv/shop/current && DJANGO_SETTINGS_MODULE=config.settings.production ` +
      `runuser -u shop -- .venv/bin/python manage.py shell -c ` +
      `"from django.contrib.auth.models import User; User.objects.create_user('kept')"`
  )
  await must(
    `install -d -o shop -g shop /srv/shop/shared/media/uploads && echo kept > /srv/shop/shared/media/uploads/kept.txt && chown shop:shop /srv/shop/shared/media/uploads/kept.txt`
  )
  liveData = await data()
  // The steps as a warm deploy runs them, each a cell's row.
  const warm = await deploy('v1', 1)
  succeeded(warm)
  live = 'v1'
  liveConfigs = await configSums()
  titles = stepTitles(warm.stdout)
})
afterAll(async () => {
  await relay?.close()
  await host?.stop()
  if (FULL && cells.length > 0) writeFileSync(join(ROOT, 'RELIABILITY.md'), table(titles, cells))
})

test('the data the faults must not touch is there', () => {
  expect(liveData).toBe("[('kept',)]\nkept\n")
  expect(titles.length).toBeGreaterThan(10)
})

test('the dry run lists the steps the deploy runs, by the same titles', async () => {
  const dry = await runAction(inputs('dry', 2, { 'dry-run': 'true' }), {
    env: newCommit(),
    workspace: checkout('subfolder', 'dry', 'src/VERSION')
  })
  // The run's own steps before the plan's: the host check, and (dry run) the live files read.
  const planned = planTitles(dry.summary).map((t) => titlePattern(t))
  const ran = titles.filter((t) => !t.startsWith('Check the host'))
  expect(ran.map((t, i) => planned[i]?.test(`::group::${t}\n`) ?? false)).toEqual(
    ran.map(() => true)
  )
  expect(planned).toHaveLength(ran.length)
})

function selection(): Array<[string, Fault]> {
  if (FULL)
    return titles.flatMap((t) =>
      (Object.keys(FAULTS) as Fault[])
        .filter((f) => f !== 'reboot' || REBOOT_STEPS.test(t))
        .map((f): [string, Fault] => [t, f])
    )
  return (CHOSEN ?? SUBSET).map(([pattern, fault]) => {
    const title = titles.find((t) => pattern.test(t))
    if (!title) throw new Error(`no step of the plan matches ${pattern}: ${titles.join(' | ')}`)
    return [title, fault]
  })
}

// The cells run in order on one host: each starts from the release the one before left live.
test('every fault leaves the site serving, the data intact, no lock held, and a clean next deploy', async () => {
  for (const [index, [step, fault]] of selection().entries()) {
    const version = `f${index + 1}`
    const injection = injectAt(step, fault, relay, host)
    const run = await deploy(version, index + 1, { onStdout: injection.onStdout })
    if (!injection.hit()) throw new Error(`the run never started "${step}":\n${run.stdout}`)
    await injection.done()
    const lock = (await lockFree()) ? 'free' : 'HELD'
    const current = (await must('cat /srv/shop/current/VERSION')).trim()
    const now = await serving()
    const result: Cell = {
      step,
      fault,
      live: current === version ? 'new' : current === live ? 'old' : `neither (${current})`,
      // nginx's header and the app's VERSION: both from the release `current` names.
      serving: now.status === 200 && now.version === current && now.header === current,
      configs:
        (current === version || (await configSums()) === liveConfigs) &&
        (await bootState()).trim() === 'consistent',
      data: (await data()) === liveData,
      lock: lock === 'free',
      next: false,
      recoverS: 0
    }
    // FAULTS_DEBUG=1: a cell that does not hold prints its run and the files, before the next deploy.
    if (process.env.FAULTS_DEBUG && !(result.serving && result.configs && result.data))
      process.stderr.write(
        `DEBUG ${step} × ${fault}:\n${run.stdout}\n${await must(`ls -la ${CONFIGS}; cat /srv/shop/.deploy/changed; journalctl -b -1 --no-pager 2>&1 | tail -150 || true`)}\nLIVE:\n${liveConfigs}\nNOW:\n${await configSums()}\n`
      )
    const nextVersion = `${version}-next`
    const next = await deploy(nextVersion, index + 2)
    result.recoverS = Math.round(next.ms / 100) / 10
    if (next.outputs.status === 'success' && (await serving()).version === nextVersion) {
      result.next = true
      live = nextVersion
      liveConfigs = await configSums()
    } else {
      process.stderr.write(`next deploy after ${step} × ${fault} failed:\n${next.stdout}\n`)
    }
    cells.push(result)
    process.stderr.write(`${step} × ${fault}: ${JSON.stringify(result)} ${await bootState()}`)
  }
  // Every cell holds; a failure lists the cells that did not, with what they saw.
  expect(cells.filter((c) => !passed(c))).toEqual([])
}, 3_600_000)

const passed = (c: Cell) =>
  c.live !== undefined &&
  !c.live.startsWith('neither') &&
  c.serving &&
  c.configs &&
  c.data &&
  c.lock &&
  c.next

/** RELIABILITY.md's table: one row per step, one column per fault. */
function table(steps: string[], seen: Cell[]): string {
  const faults = Object.keys(FAULTS) as Fault[]
  const cell = (step: string, fault: Fault) => {
    const c = seen.find((x) => x.step === step && x.fault === fault)
    if (!c) return '–'
    const wrong = (['serving', 'configs', 'data', 'lock', 'next'] as const).filter((k) => !c[k])
    return passed(c)
      ? `✅ ${c.live} serves; next live in ${c.recoverS} s`
      : `❌ ${c.live}; wrong: ${wrong.join(', ')}`
  }
  return [
    '# Reliability',
    '',
    'What a deploy interrupted at the start of each step of its plan leaves behind, seen on a real',
    'test host (Debian 12, the `subfolder` fixture: split settings, SQLite and uploads in shared/).',
    'Each cell: which release nginx serves right after the fault (old, or new when the switch had',
    'completed), and the time the next deploy took to go live. Every ✅ also means: the nginx site',
    "and units on disk are the serving release's, a boot would start its instance alone (the only",
    'one enabled, the one the tmpfiles line links), a row and an upload written before are intact,',
    'and no lock is held.',
    '',
    'Reproduce (as root, after `bash scripts/dev.sh`): `npm run test:faults`.',
    '',
    `| step | ${faults.map((f) => FAULTS[f]).join(' | ')} |`,
    `|---|${faults.map(() => '---').join('|')}|`,
    ...steps.map((s) => `| ${s} | ${faults.map((f) => cell(s, f)).join(' | ')} |`),
    ''
  ].join('\n')
}

test('rollback: true goes back to the last release that went live, never to one a killed run left half-built', async () => {
  succeeded(await deploy('rb-a', 1))
  // Killed once its code is uploaded, before its venv: a release that never went live.
  const venv = titles.find((t) => t.startsWith('Venv '))
  if (!venv) throw new Error(`no venv step in the run: ${titles.join(' | ')}`)
  const killed = injectAt(venv, 'kill', relay, host)
  await deploy('rb-half', 2, { onStdout: killed.onStdout })
  expect(killed.hit()).toBe(true)
  // Release ids name the second they were made in: the killed run may have ended within it.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  succeeded(await deploy('rb-c', 3))
  const newest = await must(
    'cd /srv/shop/releases && for r in $(ls | tail -n 3); do cat $r/VERSION; done'
  )
  expect(newest).toBe('rb-a\nrb-half\nrb-c\n')
  const back = await runAction(inputs('rb-c', 3, { rollback: 'true' }), { env: newCommit() })
  succeeded(back)
  expect((await serving()).version).toBe('rb-a')
})

test('a full disk during the upload: the cause and the space said, the partial release removed, nothing switched', async () => {
  // A project of its own on a small file system of its own, filled up after its first deploy.
  await must('mkdir -p /srv/full && mount -t tmpfs -o size=48m,mode=755 tmpfs /srv/full')
  const full = (version: string, workspace = checkout('subfolder', version, 'src/VERSION')) =>
    runAction(
      inputs(version, 0, {
        'project-name': 'full',
        'deploy-path': '/srv/full',
        'server-name': 'full.test',
        dotenv:
          'DJANGO_SECRET_KEY=full-disk-secret-key-for-the-tests\nDJANGO_ALLOWED_HOSTS=full.test'
      }),
      { env: newCommit(), workspace }
    )
  succeeded(await full('d1'))
  // Full but for 256 KB: room for the .env, not for a release with 2 MB of images.
  await must(
    'fallocate -l 256k /srv/full/room && (dd if=/dev/zero of=/srv/full/filler bs=64k 2>/dev/null || true) && rm /srv/full/room'
  )
  const heavy = checkout('subfolder', 'd2', 'src/VERSION')
  mkdirSync(join(heavy, 'src/files/static'), { recursive: true })
  writeFileSync(join(heavy, 'src/files/static/photo.jpg'), randomBytes(2 * 1024 * 1024))
  const run = await full('d2', heavy)
  expect(run.outputs.status).toBe('failure')
  expect(run.everything).toMatch(/Upload \S+ to releases\/\S+ failed: the server's disk is full \(/)
  expect(run.everything).toContain('No space left on device')
  expect(run.everything).toMatch(/The partial release was removed; [\d.]+ MB are free now/)
  expect(run.everything).toContain('Nothing was switched: ')
  // Only the live release is left; it still serves.
  expect((await must('ls /srv/full/releases')).trim().split('\n')).toHaveLength(1)
  const page = await get(host, '/status/', { Host: 'full.test' })
  expect(JSON.parse(page.text)).toMatchObject({ version: 'd1' })
  // With room again, the next deploy goes live.
  await must('rm -f /srv/full/filler')
  succeeded(await full('d3'))
  expect(JSON.parse((await get(host, '/status/', { Host: 'full.test' })).text)).toMatchObject({
    version: 'd3'
  })
})

test('a clean shutdown lets a script done whole finish: a switch under way is not cut by a reboot', async () => {
  // A shutdown sends TERM to every session's processes, as it would to the switch's SSH session.
  const body = detached(script(sh`sleep 3`, sh`touch /root/finished`))
  await must(
    `rm -f /root/finished && echo ${Buffer.from(body.text).toString('base64')} | base64 -d > /root/whole.sh`
  )
  await must('systemd-run --scope --quiet sh /root/whole.sh >/dev/null 2>&1 &')
  await must('for i in $(seq 1 50); do pgrep -f "sleep 3" >/dev/null && break; sleep 0.1; done')
  await host.reboot()
  expect((await host.exec('test -e /root/finished')).code).toBe(0)
})

test('a run killed during its upload while its venv is built beside it: the build stops, the next deploy builds it whole', async () => {
  // New requirements (a venv of their own), and a large upload: killed while it is under way.
  const project = (version: string, big: boolean) => {
    const workspace = checkout('subfolder', version, 'src/VERSION')
    edit(workspace, 'src/requirements/production.txt', (t) => `${t}# a venv of their own\n`)
    if (big) writeFileSync(join(workspace, 'src/noise.bin'), randomBytes(48 * 1024 * 1024))
    return workspace
  }
  // Killed once the venv's build is under way on the host (the upload is still coming).
  const building = async () =>
    must("systemctl list-units --no-legend --state=active 'dda-shop-venv-*' || true")
  let log = ''
  let watching = false
  let started = false
  const killed = await runAction(inputs('kv-a', 4), {
    env: newCommit(),
    workspace: project('kv-a', true),
    onStdout: (text, child) => {
      log += text
      if (watching || !log.includes('::group::Upload ')) return
      watching = true
      void (async () => {
        for (let i = 0; i < 200 && !started; i++) {
          started = (await building()).trim() !== ''
          if (!started) await new Promise((resolve) => setTimeout(resolve, 25))
        }
        child.kill('SIGKILL')
      })()
    }
  })
  expect(started).toBe(true)
  // Killed before the upload ended: it waits for the venv, and says it was built.
  expect(killed.stdout).not.toContain('beside the upload')
  // Nothing of the build goes on once the run is gone; it is not complete.
  for (let i = 0; i < 50 && (await building()).trim() !== ''; i++)
    await new Promise((resolve) => setTimeout(resolve, 200))
  expect((await building()).trim()).toBe('')
  expect(await must('ls /srv/shop/venvs/*/.complete | wc -l')).toBe('1\n')

  const next = await runAction(inputs('kv-b', 5), {
    env: newCommit(),
    workspace: project('kv-b', false)
  })
  succeeded(next)
  const key = /^built the venv ([0-9a-f]{16}) beside the upload$/m.exec(next.stdout)?.[1]
  expect(key).toBeDefined()
  expect(await must(`readlink /srv/shop/releases/${next.outputs.release}/.venv`)).toBe(
    `../../venvs/${key}\n`
  )
  expect(await must(`ls -A /srv/shop/venvs/${key}`)).not.toMatch(/^\.requirements$/m)
  expect(await must(`test -e /srv/shop/venvs/${key}/.complete && echo complete`)).toBe('complete\n')
  expect((await serving()).version).toBe('kv-b')
})

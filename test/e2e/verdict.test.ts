// Time to a verdict (issue 33): a release that cannot serve is known in seconds, not at the end of
// health-timeout (the default, 60 s, here): one whose WSGI import fails stops in the Django step
// with nothing migrated; one whose gunicorn workers die at boot ends its run within seconds of
// its instance's start, rolled back, the cause first; one merely slow to boot still goes live.
// With BENCH_VERDICT=1 the run's times are written to bench/results/<date>-verdict.md.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { resultsFile, resultsName, thisMachine } from '../../bench/results.js'
import { ROOT, runAction, type ActionRun } from './action.js'
import {
  annotations,
  deployInputs,
  edit,
  health,
  newCommit,
  onHost,
  summaryCause,
  UNDER_GUNICORN,
  workspaceWith
} from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost
let live = ''
let liveVersion = 'good'
const started = new Date()
const machine = thisMachine()
/** What BENCHMARKS.md quotes: each case's run, spawn to verdict. */
const times: Array<{
  release: string
  verdict: string
  run: number
  afterStart: string
  instance: string
  said: string
}> = []

/** The inputs a user writes, with health-timeout left to its default (60 s). */
function inputs(): Record<string, string> {
  const given = deployInputs(host)
  delete given['health-timeout']
  return given
}

/** The mysite fixture at `version`, its files changed by `change`. */
function release(version: string, change: (project: string) => void = () => undefined): string {
  const { workspace, project } = workspaceWith(version)
  change(project)
  return workspace
}

/** wsgi.py with `code` at its end: it runs where the application is imported. */
const wsgiEnds = (code: string) => (project: string) =>
  edit(project, 'mysite/wsgi.py', (text) => `${text}\n${code}\n`)

/** A run, with how long after the instance's start (its step's title in the log) it ended. */
async function deploy(workspace: string): Promise<ActionRun & { afterStart?: number }> {
  let startedAt: number | undefined
  const run = await runAction(inputs(), {
    env: newCommit(),
    workspace,
    onStdout: (text) => {
      if (startedAt === undefined && text.includes('beside the live instance'))
        startedAt = performance.now()
    }
  })
  const ended = performance.now()
  return { ...run, afterStart: startedAt === undefined ? undefined : ended - startedAt }
}

/** The milliseconds the log gives a step: `(<id>: exit <code>, <ms> ms)`. */
function stepMs(run: ActionRun, id: string): number | undefined {
  const m = new RegExp(`\\(${id}: exit \\d+, (\\d+) ms\\)`).exec(run.stdout)
  return m ? Number(m[1]) : undefined
}

const seconds = (ms?: number) => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`)

function note(what: string, run: ActionRun & { afterStart?: number }): void {
  const error = annotations(run.stdout, 'error').find((a) => a.title.startsWith('Deploy to'))
  times.push({
    release: what,
    verdict: run.outputs.status,
    run: run.ms,
    afterStart: seconds(run.afterStart),
    instance: seconds(stepMs(run, 'instance-health')),
    said: error?.message.split('\n').slice(0, 2).join(' / ') ?? ''
  })
}

/** The first line a person reads: the error annotation's and the summary's. */
function firstLines(run: ActionRun): string[] {
  const errors = annotations(run.stdout, 'error').filter((a) => a.title.startsWith('Deploy to'))
  expect(errors).toHaveLength(1)
  return [errors[0].message.split('\n')[0], summaryCause(run.summary)[0]]
}

/** The migrations of the notes app that the host's database records as applied. */
async function appliedNotes(): Promise<string[]> {
  const sql = "SELECT name FROM django_migrations WHERE app = 'notes' ORDER BY name"
  const out = await onHost(
    host,
    `python3 -c 'import sqlite3, sys; [print(*row) for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])]' /srv/mysite/shared/db.sqlite3 "${sql}"`
  )
  return out.split('\n').filter(Boolean)
}

async function stillLive(): Promise<void> {
  expect(await health(host)).toMatchObject({ release: live, version: liveVersion })
}

beforeAll(async () => {
  host = await bootHost('verdict')
  const first = await deploy(release('good'))
  if (first.outputs.status !== 'success')
    throw new Error(`the first deploy failed:\n${first.stdout}`)
  live = first.outputs.release
})

afterAll(async () => {
  await host?.stop()
  if (process.env.BENCH_VERDICT === '1') writeResults()
})

test('a good release, for comparison: live', async () => {
  const run = await deploy(release('good-2'))
  expect(run.outputs.status).toBe('success')
  note('a good release (warm deploy)', run)
  live = run.outputs.release
  liveVersion = 'good-2'
})

test('a WSGI import that fails: the Django step fails with the exception, nothing migrated', async () => {
  const run = await deploy(
    release('missing-module', (project) => {
      wsgiEnds('import verdict_missing_module  # noqa')(project)
      writeFileSync(
        join(project, 'notes', 'migrations', '0002_verdict.py'),
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    dependencies = [('notes', '0001_initial')]\n    operations = []\n"
      )
    })
  )
  note('its WSGI import fails (a missing module)', run)
  expect(run.outputs.status).toBe('failure')
  for (const line of firstLines(run))
    expect(line).toMatch(/ModuleNotFoundError: No module named 'verdict_missing_module'$/)
  // Stopped in the Django step: the instance was never started, the migration never applied.
  expect(stepMs(run, 'django')).toBeDefined()
  expect(stepMs(run, 'start')).toBeUndefined()
  expect(run.stdout).not.toMatch(/Applying notes\.0002_verdict/)
  expect(await appliedNotes()).toEqual(['0001_initial'])
  await stillLive()
})

test('workers that die at boot: the run ends long before health-timeout, rolled back, the cause first', async () => {
  const run = await deploy(
    release(
      'dies-at-boot',
      wsgiEnds(`${UNDER_GUNICORN}    raise RuntimeError('verdict: no worker boots')`)
    )
  )
  note('its gunicorn workers die at boot', run)
  expect(run.outputs.status).toBe('rolled-back')
  for (const line of firstLines(run)) expect(line).toBe('RuntimeError: verdict: no worker boots')
  // What the host said ended the check: gunicorn's arbiter gave up, or systemd restarted it.
  expect(run.stdout).toMatch(
    /gunicorn stopped: Worker failed to boot\.|gunicorn exited and systemd restarted it/
  )
  // A quarter of the 60 s health-timeout: the host's word ended the wait, not the clock (how
  // soon exactly is the benchmark's to say: a shared machine's load may add seconds).
  expect(run.afterStart).toBeDefined()
  expect(run.afterStart).toBeLessThan(15_000)
  expect(stepMs(run, 'instance-health')).toBeLessThan(15_000)
  await stillLive()
})

test('a release that answers 500: the whole health-timeout, then rolled back', async () => {
  const run = await deploy(
    release('answers-500', (project) =>
      edit(project, 'notes/views.py', (text) =>
        text.replace(
          'def healthz(request):\n',
          "def healthz(request):\n    raise RuntimeError('verdict: 500')\n"
        )
      )
    )
  )
  note('it answers 500', run)
  expect(run.outputs.status).toBe('rolled-back')
  expect(stepMs(run, 'instance-health')).toBeGreaterThanOrEqual(60_000)
  await stillLive()
})

test('a release slow to boot (20 s in its workers): no early verdict, it goes live', async () => {
  const run = await deploy(
    release('slow-boot', wsgiEnds(`${UNDER_GUNICORN}    import time\n    time.sleep(20)`))
  )
  note('its workers take 20 s to boot', run)
  if (run.outputs.status !== 'success') throw new Error(`the slow release failed:\n${run.stdout}`)
  expect(stepMs(run, 'instance-health')).toBeGreaterThanOrEqual(19_000)
  expect((await health(host)).version).toBe('slow-boot')
})

/** bench/results/<date>-verdict.md: the command, the machine, each case's times. */
function writeResults(): void {
  const folder = join(ROOT, 'bench', 'results')
  mkdirSync(folder, { recursive: true })
  const day = started.toISOString().slice(0, 10)
  const file = join(folder, resultsName(day, 'verdict', readdirSync(folder)))
  const body = [
    'One fresh host (bookworm), the mysite fixture, health-timeout left at its default (60 s).',
    'Each release is deployed over the good one; "run" is the spawn of `node dist/index.js` to its',
    'end (the verdict), "after the start" from the log\'s line of the instance\'s start to that end,',
    '"instance-health" the new instance\'s own check (as the log times it).',
    '',
    '| release | verdict | run | after the start | instance-health |',
    '|---|---|---:|---:|---:|',
    ...times.map(
      (t) => `| ${t.release} | ${t.verdict} | ${seconds(t.run)} | ${t.afterStart} | ${t.instance} |`
    ),
    '',
    'What each failed run said first (its error, first two lines):',
    '',
    ...times.filter((t) => t.said).map((t) => `- ${t.release}: ${t.said}`)
  ].join('\n')
  const prefix = process.env.TESTHOST_PREFIX
    ? `TESTHOST_PREFIX=${process.env.TESTHOST_PREFIX} `
    : ''
  const command = `BENCH_VERDICT=1 ${prefix}node --experimental-vm-modules node_modules/jest/bin/jest.js test/e2e/verdict.test.ts --selectProjects e2e --runInBand`
  const text = resultsFile({
    script: 'verdict',
    title: 'Time to a verdict',
    command,
    started,
    ended: new Date(),
    machine,
    loadAtEnd: loadavg(),
    body
  })
  writeFileSync(file, text.replace('`bench/verdict.ts`', '`test/e2e/verdict.test.ts`'))
}

// Python started by root (or the SSH user) never reads the current folder, PYTHON* variables or a
// user's site-packages: every interpreter a step's own shell starts carries -I (isolated mode).
// What runs as the app user goes to its shell encoded (asApp), so it is not scanned here.

import { planRun, stagingSteps, type Plan } from '../src/plan.js'
import type { ProjectSettings } from '../src/server/discover.js'
import type { HostFacts } from '../src/server/facts.js'
import { inspectStep } from '../src/server/inspect.js'
import type { Step } from '../src/server/step.js'
import type { Settings } from '../src/settings.js'
import { hostFacts, settingsFor } from './settings-fixture.js'

const RELEASE = '20261125T081500Z-1a2b3c4'
const LIVE = '20261120T100000Z-aaaaaaa'
const OLDER = '20261110T100000Z-bbbbbbb'
/** Every step a plan holds, whether or not the run gets to it. */
function everyStep(plan: Plan): Step[] {
  return [
    ...plan.release,
    ...(plan.discover ? [plan.discover] : []),
    ...plan.build,
    ...plan.gates,
    plan.start,
    plan.instanceHealth,
    plan.abandon,
    plan.switch,
    plan.health,
    ...plan.finish,
    ...(plan.markFailed ? [plan.markFailed] : []),
    ...(plan.removePartial ? [plan.removePartial] : []),
    plan.rollback,
    plan.diagnostics,
    ...(plan.processes
      ? [plan.processes.restart, plan.processes.rollback, plan.processes.read]
      : []),
    ...(plan.certificate ? [plan.certificate.step] : []),
    ...(plan.secure
      ? [plan.secure.gate, plan.secure.reload, plan.secure.health, plan.secure.undo]
      : [])
  ]
}

/** What the settings of the release `id` say: everything in it that adds steps. */
const foundIn = (id: string): ProjectSettings => {
  const release = `/srv/mysite/releases/${id}`
  return {
    staticUrl: '/static/',
    staticRoot: `${release}/staticfiles`,
    mediaUrl: '/media/',
    mediaRoot: `${release}/media`,
    sqlite: [`${release}/db.sqlite3`],
    compress: { enabled: true, offline: true, output: 'CACHE' },
    databaseEngine: 'django.db.backends.sqlite3',
    staticStorage: 'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'
  }
}

const every: Partial<Settings> = {
  acme: { email: 'admin@example.com', directory: 'https://acme.example.com/directory' },
  buildCommands: [['compilemessages']],
  preRestart: 'echo pre',
  postDeploy: 'echo post',
  processes: [{ name: 'worker', command: ['celery', '-A', 'mysite', 'worker'], once: false }],
  schedules: [
    {
      name: 'clear',
      calendar: 'daily',
      command: ['python', 'manage.py', 'clearsessions'],
      once: true
    }
  ]
}

const warm: Partial<HostFacts> = {
  live: LIVE,
  releases: [LIVE, OLDER],
  served: [LIVE, OLDER],
  instance: 'blue',
  migrated: [LIVE],
  backups: [`${LIVE}.sqlite3`]
}

/** Every mode, on a fresh host and a warm one, with every option that adds steps. */
function steps(): Array<[string, Step]> {
  const runs: Array<[string, Partial<Settings>, Partial<HostFacts>, string]> = [
    ['deploy, first', every, {}, RELEASE],
    ['deploy, warm', every, { ...warm, certificate: { daysLeft: 5, names: ['x'] } }, RELEASE],
    ['deploy, certificate served', every, { ...warm, challengeServed: true }, RELEASE],
    ['source: none', { ...every, source: null }, warm, LIVE],
    ['rollback', { ...every, rollback: true, restoreDatabase: true, force: true }, warm, OLDER]
  ]
  const all: Array<[string, Step]> = []
  for (const [mode, overrides, facts, target] of runs) {
    const s = settingsFor(overrides)
    const plan = planRun({
      settings: s,
      facts: hostFacts(facts),
      newRelease: RELEASE,
      venvKey: '0123456789abcdef',
      requirements: [{ path: 'requirements.txt', text: 'Django\n' }],
      projectSettings: foundIn(target)
    })
    all.push(...everyStep(plan).map((step): [string, Step] => [mode, step]))
  }
  const s = settingsFor(every)
  const staged = stagingSteps(s, `${RELEASE}-dry-run`, '0123456789abcdef')
  all.push(
    ['inspect', inspectStep(s)],
    ...[
      ...staged.prepare,
      staged.discover,
      ...staged.read(foundIn(`${RELEASE}-dry-run`)),
      staged.remove
    ].map((step): [string, Step] => ['dry run', step])
  )
  return all
}

/** Each interpreter a shell text starts with options, and its options. */
function pythonCalls(text: string): string[] {
  const calls = text.matchAll(
    /(?:^|[\s;&|(`])((?:[\w./-]*\/)?python3?(?:\.\d+)?)((?:[ \t]+-[A-Za-z]+)+)/gm
  )
  return [...calls].map((match) => `${match[1]}${match[2]}`)
}

describe('python started by a step carries -I', () => {
  test('the scan finds what it looks for', () => {
    expect(pythonCalls("python3 -I -c 'x'; /usr/bin/python3.11 -c x")).toEqual([
      'python3 -I -c',
      '/usr/bin/python3.11 -c'
    ])
    expect(pythonCalls('for tool in python3; do printf python3 "$x"; done')).toEqual([])
  })

  test('in every step of every mode', () => {
    const found = steps().flatMap(([mode, step]) =>
      pythonCalls(step.command.text).map((call) => ({ mode, step: step.id, call }))
    )
    // The health checks and the certificate's read are among them.
    expect(found.map((f) => f.step)).toEqual(
      expect.arrayContaining(['inspect', 'health', 'instance-health'])
    )
    const missing = found.filter(({ call }) => !/ -[A-Za-z]*I/.test(call))
    expect(missing).toEqual([])
  })
})

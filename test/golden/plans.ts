// The two reference plans whose scripts are committed under test/golden/ (one file per step, as
// the server runs it), and their rendering: what a reviewer reads instead of running a test.

import { join } from 'node:path'
import { assumedSettings, planRun, planSteps, type Plan, type PlanInput } from '../../src/plan.js'
import { projectSettings, type ProjectSettings } from '../../src/server/discover.js'
import type { HostFacts } from '../../src/server/facts.js'
import { inspectStep } from '../../src/server/inspect.js'
import { holdingStepsLock, lockCommand } from '../../src/server/lock.js'
import { venvKey } from '../../src/server/release.js'
import type { Step } from '../../src/server/step.js'
import { readSettings } from '../../src/inputs/settings.js'
import type { Settings } from '../../src/settings.js'
import { ROOT } from '../e2e/action.js'
import { withProgramsNamed } from './programs.js'

const RELEASE = '20261205T120000Z-1a2b3c4'
const LIVE = '20261201T090000Z-0f0e0d0'
const OLDER = '20261120T090000Z-9a8b7c6'
const REQUIREMENTS = [
  { path: 'requirements.txt', text: 'Django==5.2.8\ngunicorn==23.0.0\ncelery==5.5.3\n' }
]
const PYTHON = '3.11.2 /usr/bin/python3.11'

/** The inputs as a workflow gives them (the fixture project is the checked-out repository). */
function settingsOf(inputs: Record<string, string>): Settings {
  const values: Record<string, string> = {
    host: 'app1.example.com',
    username: 'deploy',
    password: 'not-a-real-password',
    'insecure-skip-host-key-check': 'true',
    'project-name': 'mysite',
    source: '.',
    dotenv: 'DJANGO_SECRET_KEY=not-a-real-secret\nDEBUG=0',
    ...inputs
  }
  const workspace = join(ROOT, 'test', 'fixtures', 'mysite')
  const s = readSettings({ getInput: (name) => values[name] ?? '', workspace })
  // Where a runner checks the repository out: the same on every machine the scripts render on.
  return { ...s, source: '/home/runner/work/mysite/mysite' }
}

/** What a startproject's settings print (the discover step), for a release. */
function settingsPrinted(s: Settings, release: string): ProjectSettings {
  const at = `${s.deployPath}/releases/${release}`
  return projectSettings({
    STATIC_URL: '/static/',
    STATIC_ROOT: `${at}/staticfiles`,
    MEDIA_URL: '/media/',
    MEDIA_ROOT: `${at}/media`,
    SQLITE: [`${at}/db.sqlite3`],
    STORAGE: `${at}/media`,
    REFUSED_HOSTS: [],
    SSL_REDIRECT: false,
    DATABASE: 'django.db.backends.sqlite3',
    STATIC_STORAGE: 'django.contrib.staticfiles.storage.StaticFilesStorage'
  })
}

function input(s: Settings, facts: HostFacts): Omit<PlanInput, 'projectSettings'> {
  return {
    settings: s,
    facts,
    newRelease: RELEASE,
    venvKey: venvKey(REQUIREMENTS, PYTHON, s.systemSitePackages),
    requirements: REQUIREMENTS,
    singletons: true,
    deployKey: 'a'.repeat(64)
  }
}

/** A first deploy to a fresh Debian host: nothing live, the settings read by the discover step. */
function firstDeploy(): { settings: Settings; plan: Plan } {
  const s = settingsOf({ 'server-name': 'example.com' })
  const facts: HostFacts = {
    cpus: 2,
    live: '',
    releases: [],
    failed: [],
    served: [],
    python: PYTHON,
    instance: '',
    migrated: [],
    backups: []
  }
  const projectSettings = settingsPrinted(s, RELEASE)
  return { settings: s, plan: planRun({ ...input(s, facts), projectSettings }) }
}

/**
 * A warm deploy: a release live in the blue instance with its certificate (tls: auto), a worker
 * and a schedule running; the settings the live release recorded, checked by the Django process.
 */
function warmProcessesHttps(): { settings: Settings; plan: Plan } {
  const s = settingsOf({
    'server-name': 'example.com www.example.com',
    tls: 'auto',
    'acme-email': 'admin@example.com',
    processes: 'worker: python -m celery -A mysite worker -l info',
    schedules: 'clearsessions: { on: daily, run: python manage.py clearsessions }'
  })
  const facts: HostFacts = {
    cpus: 2,
    live: LIVE,
    releases: [LIVE, OLDER],
    failed: [],
    served: [LIVE, OLDER],
    python: PYTHON,
    processUnits: [
      'mysite-worker.service',
      'mysite-clearsessions.service',
      'mysite-clearsessions.timer'
    ],
    instance: 'blue',
    migrated: [LIVE],
    backups: [`${LIVE}.sqlite3`],
    deployed: 'b'.repeat(64),
    projectSettings: settingsPrinted(s, LIVE),
    certificate: { daysLeft: 61, names: ['example.com', 'www.example.com'] },
    challengeServed: true
  }
  const projectSettings = assumedSettings(s, facts, RELEASE)
  if (!projectSettings) throw new Error('the warm plan needs the live release’s record')
  const plan = planRun({ ...input(s, facts), projectSettings, assumed: true })
  return { settings: s, plan }
}

/** A step's script as the server receives it, with what the reviewer needs to know on top. */
export interface Rendered {
  /** the file, relative to test/golden/ */
  file: string
  step: Step
  /** the script, byte for byte as sent (remote/bootstrap.ts scriptBytes) */
  text: string
}

/** A committed file: its path under test/golden/ and its text. */
export interface GoldenFile {
  file: string
  text: string
}

// A script the step hands to the app user's sandbox (server/sandbox.ts asApp), as base64.
const APP_SCRIPT = /printf %s '?([A-Za-z0-9+/\\=]+)'? \| base64 -d \| systemd-run /g

/**
 * The committed files of a step: what it is, then the script with its Python programs named;
 * each script it runs as the app user (sent as base64) in a file of its own beside it.
 */
export function goldenFiles(r: Rendered): GoldenFile[] {
  const who = r.step.privileged ? 'as root' : 'as the SSH user'
  const stdin = r.step.stdin ? `, reading ${STDIN[r.step.stdin]} on stdin` : ''
  const base = r.file.replace(/\.sh$/, '')
  const apps: GoldenFile[] = []
  const text = r.text.replace(APP_SCRIPT, (_, b64: string) => {
    const file = `${base}.app${apps.length + 1}.sh`
    const body = Buffer.from(b64.replace(/\\/g, ''), 'base64').toString()
    apps.push({
      file,
      text: head(file, `run as the app user by ${r.file}`, withProgramsNamed(`${body}\n`))
    })
    return `printf %s '<base64 of ${file.split('/').pop()}>' | base64 -d | systemd-run `
  })
  const what = `the step \`${r.step.id}\` (phase ${r.step.phase}, ${who}${stdin}): ${r.step.title}`
  return [{ file: r.file, text: head(r.file, what, withProgramsNamed(text)) }, ...apps]
}

function head(file: string, what: string, text: string): string {
  return [
    `# ${file}: ${what}.`,
    '# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each',
    "# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.",
    text
  ].join('\n')
}

const STDIN = {
  dotenv: 'the .env text',
  source: "the source's tar stream",
  'preview-database': "the admin's connection, then the app role's password",
  'pip-index': "the private index's URLs",
  wheels: "the lock's files as a tar stream"
}

/** The steps of a plan: the run that goes well, in order, then what runs when it does not. */
function planScripts(name: string, s: Settings, plan: Plan): Rendered[] {
  const first: Step = {
    ...inspectStep(s),
    id: 'lock-and-inspect',
    command: lockCommand(
      s,
      'run 1 by octocat (main) since 2026-12-05T12:00:00.000Z',
      300,
      inspectStep(s).command,
      // Its audit line's values are quoted even when they are hostile.
      {
        run: '42',
        repository: 'octo/shop',
        actor: "o'cto $(id)",
        mode: 'deploy',
        argument: '1a2b3c4'
      }
    )
  }
  const run = [first, ...planSteps(plan)]
  const failure = [
    plan.abandon,
    plan.markFailed,
    plan.removePartial,
    plan.rollback,
    plan.diagnostics,
    plan.processes?.rollback,
    plan.secure?.undo
  ].flatMap((step) => (step ? [step] : []))
  const pad = (n: number) => String(n).padStart(2, '0')
  return [
    ...run.map((step, i) => ({ file: `${name}/${pad(i)}-${step.id}.sh`, step })),
    ...failure.map((step) => ({ file: `${name}/on-failure/${step.id}.sh`, step }))
  ].map((r) => ({
    ...r,
    // As the executor sends it: every step but the lock's own inside the steps lock.
    text: `${(r.step === first ? r.step.command : holdingStepsLock(s, r.step.command)).text}\n`
  }))
}

/** Every golden script of both reference plans. */
export function goldenScripts(): Rendered[] {
  const first = firstDeploy()
  const warm = warmProcessesHttps()
  return [
    ...planScripts('first-deploy', first.settings, first.plan),
    ...planScripts('warm-processes-https', warm.settings, warm.plan)
  ]
}

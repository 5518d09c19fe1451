// provision and apt-packages: which packages a deploy needs, what the host check says of them
// (its script run here, against this machine's dpkg), the install step, the flow around it and
// what the summary says.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Input } from '../src/constants.js'
import { provisionHost, NOTHING_TO_INSTALL } from '../src/flow/provision.js'
import { RunRecord } from '../src/flow/record.js'
import type { HostDeps } from '../src/flow/deps.js'
import { Stop } from '../src/flow/stop.js'
import type { RunResult } from '../src/remote/connection.js'
import { summaryMarkdown, type HostReport } from '../src/report/report.js'
import { inspectStep, parseFacts } from '../src/server/inspect.js'
import {
  aptProblem,
  installStep,
  missingPackagesCheck,
  neededPackages,
  venvPackage
} from '../src/server/provision.js'
import type { Step } from '../src/server/step.js'
import type { Settings } from '../src/settings.js'
import { hostFacts, readInputs, refusalOf, settingsFor } from './settings-fixture.js'

/** A workspace whose source is a Django project. */
const workspace = fileURLToPath(new URL('../test/fixtures/mysite', import.meta.url))

const dashAvailable = spawnSync('dash', ['-c', 'command -v dpkg-query']).status === 0
const onDebian = dashAvailable ? test : test.skip

/** Runs a script with dash as a step's shell would, reading nothing but this machine's dpkg. */
function runScript(text: string): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync('dash', ['-c', text], { encoding: 'utf8' })
  return { code: run.status, stdout: run.stdout, stderr: run.stderr }
}

describe('the packages a deploy needs', () => {
  test('provision: nginx, the venv of the interpreter, iproute2', () => {
    expect(neededPackages(settingsFor({ provision: true }))).toEqual([
      'nginx',
      'python3-venv',
      'iproute2'
    ])
    expect(neededPackages(settingsFor({ provision: true, python: 'python3.11' }))).toContain(
      'python3.11-venv'
    )
  })

  test('an interpreter Debian did not install gets no venv package', () => {
    expect(venvPackage('/opt/python/bin/python3.12')).toBeUndefined()
    expect(venvPackage('/usr/bin/python3.12')).toBe('python3.12-venv')
  })

  test('what the inputs imply: certbot with tls auto, the PostgreSQL client for its backups', () => {
    const acme = { directory: 'https://acme.example.com/directory', email: 'a@example.com' }
    const tls = settingsFor({ provision: true, acme } as Partial<Settings>)
    expect(neededPackages(tls)).toContain('certbot')
    const postgres = settingsFor({
      provision: true,
      dotenv: [['DATABASE_URL', 'postgres://app:secret@db.example.com/app']]
    })
    expect(neededPackages(postgres)).toContain('postgresql-client')
    expect(neededPackages({ ...postgres, backup: false })).not.toContain('postgresql-client')
    expect(neededPackages(settingsFor({ provision: true }))).not.toContain('postgresql-client')
  })

  test('apt-packages, with or without provision, each once', () => {
    expect(neededPackages(settingsFor({ aptPackages: ['gettext', 'libpq5'] }))).toEqual([
      'gettext',
      'libpq5'
    ])
    expect(
      neededPackages(settingsFor({ provision: true, aptPackages: ['nginx', 'gettext'] }))
    ).toEqual(['nginx', 'python3-venv', 'iproute2', 'gettext'])
  })
})

describe('the inputs', () => {
  test('apt-packages: spaces, commas or lines between names', () => {
    const s = readInputs(
      { [Input.AptPackages]: 'python3-psycopg2, gettext\nlibpq5 gettext' },
      workspace
    )
    expect(s.aptPackages).toEqual(['python3-psycopg2', 'gettext', 'libpq5'])
    expect(s.provision).toBe(false)
    expect(readInputs({ [Input.Provision]: 'true' }, workspace).provision).toBe(true)
  })

  test.each([
    'Nginx',
    'x',
    '-o',
    'gettext;reboot',
    'python3_psycopg2',
    'libc6:amd64',
    'openssh-client-',
    'nginx+'
  ])('apt-packages refuses %j, naming the input and the name', (name) => {
    const error = refusalOf(
      () => readInputs({ [Input.AptPackages]: `gettext ${name}` }, workspace),
      {
        input: Input.AptPackages
      }
    )
    expect(error.input).toBe(Input.AptPackages)
    expect(error.message).toContain(`'${name}' is not a Debian package name`)
  })
})

describe('the host check', () => {
  test('checks no package unless provision or apt-packages is set', () => {
    expect(inspectStep(settingsFor()).command.text).not.toContain('dpkg-query')
    expect(inspectStep(settingsFor({ aptPackages: ['gettext'] })).command.text).toContain(
      'dpkg-query'
    )
    const manage = settingsFor({
      aptPackages: ['gettext'],
      operation: { kind: 'logs', lines: 50 } as Settings['operation']
    })
    expect(inspectStep(manage).command.text).not.toContain('dpkg-query')
  })

  test('provision with tls auto: a host that lacks only certbot is checked again once it has it', () => {
    const s = settingsFor({
      provision: true,
      acme: { email: 'admin@example.com', directory: 'https://acme.example.net/directory' }
    })
    const text = inspectStep(s).command.text
    const again = text.indexOf(
      'command -v certbot >/dev/null 2>&1 || [ -z "$packages" ] || { echo provision-first=yes; exit 0; }'
    )
    expect(again).toBeGreaterThan(-1)
    // Before the check that would stop the run for the missing certbot.
    expect(again).toBeLessThan(text.indexOf('tls: auto needs certbot on the host'))
    expect(inspectStep({ ...s, provision: false }).command.text).not.toContain('provision-first')
  })

  onDebian('lists the packages dpkg does not call installed, in one call', () => {
    const s = settingsFor({ aptPackages: ['dpkg', 'no-such-package-xyz', 'coreutils'] })
    const run = runScript(missingPackagesCheck(s).text)
    expect(run.code).toBe(0)
    expect(parseFacts(run.stdout).packagesMissing).toEqual(['no-such-package-xyz'])
    const none = runScript(missingPackagesCheck(settingsFor({ aptPackages: ['dpkg'] })).text)
    expect(parseFacts(none.stdout).packagesMissing).toEqual([])
  })

  test('a package removed but not purged, or not fully installed, is missing', () => {
    // A host's dpkg as it answers after `apt-get remove nginx` and a broken install of libpq5.
    const bin = mkdtempSync(join(tmpdir(), 'dpkg-'))
    writeFileSync(
      join(bin, 'dpkg-query'),
      "#!/bin/sh\nprintf 'rc  nginx\\nii  gettext\\niU  libpq5\\n'\n",
      { mode: 0o755 }
    )
    const s = settingsFor({ aptPackages: ['nginx', 'gettext', 'libpq5'] })
    const run = spawnSync('sh', ['-c', missingPackagesCheck(s).text], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }
    })
    rmSync(bin, { recursive: true })
    expect(parseFacts(run.stdout).packagesMissing).toEqual(['nginx', 'libpq5'])
  })

  onDebian('with provision, a host that lacks the tools it installs says so and stops', () => {
    // An interpreter the host lacks, whose venv package dpkg does not have either.
    const s = settingsFor({ provision: true, python: 'python3.99' })
    const run = runScript(inspectStep(s).command.text)
    expect(run.code).toBe(0)
    const facts = parseFacts(run.stdout)
    expect(facts.packagesMissing).toContain('python3.99-venv')
    expect(facts.provisionFirst).toBe(true)
    // Without provision the same host fails the check, naming the tool.
    const plain = runScript(inspectStep({ ...s, provision: false }).command.text)
    expect(plain.code).toBe(3)
    expect(plain.stderr).toContain('missing on the host: python3.99')
  })
})

describe('the install step', () => {
  test('apt-get non-interactive, without recommends, waiting lock-wait for apt, lists first', () => {
    const text = installStep(settingsFor({ lockWaitMs: 120_000 }), ['nginx', 'gettext']).command
      .text
    expect(text).toContain('DEBIAN_FRONTEND=noninteractive')
    expect(text).toContain(
      'apt-get -q -o DPkg::Lock::Timeout=120 install -y --no-install-recommends nginx gettext'
    )
    expect(text.indexOf('DPkg::Lock::Timeout=120 update')).toBeLessThan(text.indexOf(' install '))
    expect(text.indexOf('exit 101')).toBeLessThan(text.indexOf(' update'))
    expect(installStep(settingsFor(), ['nginx']).privileged).toBe(true)
  })

  test.each([
    ['the install step', installStep(settingsFor(), ['nginx', 'gettext']).command.text],
    [
      'the host check with provision',
      inspectStep(settingsFor({ provision: true, aptPackages: ['gettext'] })).command.text
    ]
  ])('shellcheck: %s', (_what, text) => {
    const run = spawnSync('shellcheck', ['-s', 'sh', '-'], { input: text, encoding: 'utf8' })
    expect(run.stdout + run.stderr).toBe('')
    expect(run.status).toBe(0)
  })

  test('policy-rc.d holds back only the services named as the packages; each name must be a package of its own', () => {
    const text = installStep(settingsFor(), ['nginx', 'gettext']).command.text
    // The policy the step writes, run as invoke-rc.d runs it: nginx held back, ssh not.
    const policy = spawnSync(
      'sh',
      [
        '-c',
        `${text.split('\n').find((l) => l.includes('services='))}; printf '#!/bin/sh\n%s\ncase "%s" in %s) exit 101;; esac\nexit 0\n' m "\\$1" "$services" > /tmp/dda-policy-$$; sh /tmp/dda-policy-$$ nginx start; a=$?; sh /tmp/dda-policy-$$ ssh restart; echo "$a $?"; rm -f /tmp/dda-policy-$$`
      ],
      { encoding: 'utf8' }
    )
    expect(policy.stdout.trim()).toBe('101 0')
    expect(text).toContain('case "%s" in %s) exit 101;; esac')
    // apt reads `redis.` as a pattern when no package has that name: refused before install.
    expect(text).toContain(
      'apt-cache show --no-all-versions -- "$name" 2>/dev/null | grep -qxF "Package: $name"'
    )
    expect(text.indexOf('apt-cache show')).toBeLessThan(text.indexOf(' install -y'))
  })

  test("a lock apt did not get: its error, then who held it (apt's last word of it)", () => {
    const output = [
      'Reading package lists...',
      'Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 301 (unattended-upgr)...',
      'Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 301 (unattended-upgr)... 2s',
      'E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?'
    ].join('\n')
    expect(aptProblem(output).split('\n')).toEqual([
      'E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?',
      'Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 301 (unattended-upgr)... 2s'
    ])
  })

  test("apt's errors first, as it wrote them", () => {
    const output = [
      'Reading package lists...',
      'Building dependency tree...',
      'W: Some warning',
      'E: Unable to locate package no-such-package-xyz'
    ].join('\n')
    expect(aptProblem(output)).toBe(
      'E: Unable to locate package no-such-package-xyz\nW: Some warning'
    )
  })
})

/** The flow's side: each step it runs and what it said, the host answering `answer`. */
function scripted(s: Settings, answer: (step: Step) => Partial<RunResult>) {
  const ran: Step[] = []
  const said: string[] = []
  const deps = {
    settings: s,
    run: (step: Step) => {
      ran.push(step)
      return Promise.resolve({ code: 0, stdout: '', stderr: '', ...answer(step) } as RunResult)
    },
    info: (message: string) => said.push(message)
  } as unknown as HostDeps
  return { deps, ran, said }
}

describe('the flow', () => {
  const check = inspectStep(settingsFor({ provision: true }))

  test('a host that has them all installs nothing, in one line', async () => {
    const { deps, ran, said } = scripted(settingsFor({ provision: true }), () => ({}))
    const record = new RunRecord()
    await provisionHost(deps, record, check, hostFacts({ packagesMissing: [] }))
    expect(ran).toEqual([])
    expect(said).toEqual([NOTHING_TO_INSTALL])
    expect(record.outcome('success', '').packages).toBeUndefined()
  })

  test('installs what is missing, then checks the host again when it stopped for them', async () => {
    const { deps, ran } = scripted(settingsFor({ provision: true }), (step) =>
      step.id === 'inspect' ? { stdout: 'python=3.11.2 /usr/bin/python3.11\nlive=\n' } : {}
    )
    const record = new RunRecord()
    const facts = await provisionHost(
      deps,
      record,
      check,
      hostFacts({ packagesMissing: ['nginx', 'python3-venv'], provisionFirst: true })
    )
    expect(ran.map((s) => s.id)).toEqual(['install-packages', 'inspect'])
    expect(ran[0].command.text).toContain('--no-install-recommends nginx python3-venv')
    expect(facts.python).toBe('3.11.2 /usr/bin/python3.11')
    expect(record.outcome('success', '').packages).toEqual({
      installed: ['nginx', 'python3-venv']
    })
  })

  test('a dry run installs nothing and lists the packages', async () => {
    const { deps, ran, said } = scripted(settingsFor({ provision: true, dryRun: true }), () => ({}))
    const record = new RunRecord()
    await provisionHost(deps, record, check, hostFacts({ packagesMissing: ['gettext'] }))
    expect(ran).toEqual([])
    expect(said.join('\n')).toContain('Debian packages to install first: gettext')
    expect(record.outcome('success', '').packages).toEqual({ wouldInstall: ['gettext'] })
  })

  test("a failed install stops the run with apt's words first and the packages", async () => {
    const { deps } = scripted(settingsFor({ aptPackages: ['no-such-package-xyz'] }), () => ({
      code: 100,
      stderr: 'E: Unable to locate package no-such-package-xyz\n'
    }))
    const record = new RunRecord()
    const failed = provisionHost(
      deps,
      record,
      check,
      hostFacts({ packagesMissing: ['no-such-package-xyz'] })
    )
    await expect(failed).rejects.toBeInstanceOf(Stop)
    await expect(failed).rejects.toThrow(
      /^E: Unable to locate package no-such-package-xyz\napt-get could not install the Debian packages no-such-package-xyz/
    )
    expect(record.failedStep?.title).toContain('no-such-package-xyz')
  })
})

test('the summary lists what each host installed, or would', () => {
  const report: HostReport = {
    host: 'app1.example.com',
    release: 'r2',
    previousRelease: '',
    status: 'success',
    gates: [],
    phaseMs: {},
    durationMs: 1000,
    message: '',
    packages: { installed: ['nginx', 'python3-venv'] }
  }
  const summary = summaryMarkdown(settingsFor(), [
    report,
    { ...report, host: 'app2.example.com', packages: { wouldInstall: ['gettext'] } }
  ])
  expect(summary).toContain(
    'app1.example.com: installed the Debian packages `nginx`, `python3-venv`'
  )
  expect(summary).toContain('app2.example.com: would install the Debian packages `gettext`')
})

// "Nothing hostile ever reaches a shell, a unit file or an nginx file" (ARCHITECTURE.md, "Quoting").
//
// A corpus of hostile values is put into every input that ends up in a shell command, a systemd
// unit or the nginx site: alone, appended to a valid value, and as an extra item after the input's
// own separator. Each must be refused with an InputError that names the input. The inputs that are
// documented as free text are not in that table; for them the test shows what happens downstream
// instead, and that it is harmless.

import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Input } from '../src/constants.js'
import { configFiles, installConfigStep } from '../src/server/config.js'
import { discoverStep } from '../src/server/discover.js'
import { djangoSteps, hookStep } from '../src/server/django.js'
import { diagnosticsStep, healthStep, instanceHealthStep } from '../src/server/health.js'
import { inspectStep } from '../src/server/inspect.js'
import {
  dotenvStep,
  dotenvText,
  prepareStep,
  pruneStep,
  uploadStep,
  venvStep
} from '../src/server/release.js'
import {
  abandonStep,
  drainStep,
  rollbackStep,
  startStep,
  switchStep
} from '../src/server/switch.js'
import { appFolderProblem } from '../src/grammar/paths.js'
import { excluder } from '../src/remote/archive.js'
import { renderSite } from '../src/render/nginx.js'
import { readSettings } from '../src/inputs/settings.js'
import type { Settings } from '../src/settings.js'
import { TEST_CA_PEM, hostFacts, inputError } from './settings-fixture.js'

let dir: string
let workspace: string
/** Created only if a hostile value is ever run as a command (test.each needs it before beforeAll). */
const mark = join(tmpdir(), `django-deploy-action-pwned-${process.pid}`)

const RELEASE = '20261125T081500Z-1a2b3c4'

/** The corpus; each value is something an attacker (or a bad paste) could put into an input. */
function corpus(): Array<[string, string]> {
  return [
    ['a newline', `x\ntouch ${mark}`],
    ['a carriage return', `x\rtouch ${mark}`],
    ['a semicolon', `;touch ${mark}`],
    ['an opening brace', '{'],
    ['a closing brace', '}'],
    ['a command substitution', `$(touch ${mark})`],
    ['backticks', `\`touch ${mark}\``],
    ['a single quote', "'"],
    ['a double quote', '"'],
    ['a parent folder', '../../etc/passwd'],
    ['a NUL byte', 'x\u0000y'],
    ['spaces', ' x y '],
    ['a 5000-character value', 'a'.repeat(5000)],
    ['Cyrillic look-alike letters', 'ехаmple.com'],
    ['a fullwidth solidus', '／etc'],
    ['a right-to-left override', 'x\u202Ey'],
    ['a zero-width space', 'x\u200By'],
    ['a systemd specifier', '%h'],
    ['a backslash', '\\']
  ]
}

interface Row {
  input: Input
  /** a valid value the hostile one is appended to */
  valid: string
  /** how the input separates several items, when it takes a list */
  separator: string
  /** other inputs this one needs to be read on its own (tls pair) */
  with?: Record<string, string>
  /** turns the tested text into the input's value (dotenv: the text is a key) */
  place?: (text: string) => string
}

// Every input whose value ends up in a shell command, a unit file or the nginx site.
// Left out, as documented free text (see the tests at the end): pre-restart, post-deploy,
// nginx-directives, exclude, dotenv values and environment.
const TABLE: Row[] = [
  { input: Input.Host, valid: 'app1.example.com', separator: '\n' },
  { input: Input.Port, valid: '22', separator: ' ' },
  { input: Input.Username, valid: 'deploy', separator: ' ' },
  { input: Input.JumpHost, valid: 'jump@bastion.example.com:2222', separator: ' ' },
  { input: Input.ProjectName, valid: 'mysite', separator: ' ' },
  { input: Input.WsgiModule, valid: 'mysite.wsgi:application', separator: ' ' },
  { input: Input.SettingsModule, valid: 'mysite.settings', separator: ' ' },
  { input: Input.DeployPath, valid: '/srv/mysite', separator: ' ' },
  { input: Input.Requirements, valid: 'requirements.txt', separator: ' ' },
  { input: Input.DependencyGroups, valid: 'prod', separator: ',' },
  // pip's environment, through the venv step's script (quoted there): refused all the same.
  {
    input: Input.PipIndexUrl,
    valid: 'https://user:t0ken@pypi.example.com/simple/',
    separator: ' '
  },
  { input: Input.PipExtraIndexUrl, valid: 'https://pypi.example.com/simple/', separator: ' ' },
  { input: Input.Wheels, valid: 'server', separator: ' ' },
  { input: Input.Python, valid: 'python3', separator: ' ' },
  { input: Input.AppUser, valid: 'mysite', separator: ' ' },
  { input: Input.Workers, valid: '4', separator: ' ' },
  { input: Input.GunicornArgs, valid: '--timeout 60', separator: ' ' },
  { input: Input.AsgiModule, valid: 'mysite.asgi:application', separator: ' ' },
  { input: Input.AsgiServer, valid: 'uvicorn', separator: ' ' },
  {
    input: Input.ProxyReadTimeout,
    valid: '3600',
    separator: ' ',
    with: { [Input.AsgiModule]: 'mysite.asgi:application' }
  },
  { input: Input.DrainTimeout, valid: '30', separator: ' ' },
  { input: Input.ServerName, valid: 'example.com', separator: ' ' },
  { input: Input.Listen, valid: '127.0.0.1:8080', separator: ' ' },
  { input: Input.StaticUrl, valid: '/static/', separator: ' ' },
  { input: Input.StaticRoot, valid: '/srv/mysite/static', separator: ' ' },
  { input: Input.MediaUrl, valid: '/media/', separator: ' ' },
  { input: Input.MediaRoot, valid: '/srv/mysite/shared/media', separator: ' ' },
  { input: Input.ClientMaxBodySize, valid: '10m', separator: ' ' },
  {
    input: Input.TlsCertificate,
    valid: '/etc/ssl/certs/example.com.pem',
    separator: ' ',
    with: { [Input.TlsCertificateKey]: '/etc/ssl/private/example.com.key' }
  },
  {
    input: Input.TlsCertificateKey,
    valid: '/etc/ssl/private/example.com.key',
    separator: ' ',
    with: { [Input.TlsCertificate]: '/etc/ssl/certs/example.com.pem' }
  },
  { input: Input.TlsListen, valid: '8443', separator: ' ' },
  { input: Input.Hsts, valid: '300', separator: ' ' },
  { input: Input.Tls, valid: 'auto', separator: ' ', with: { [Input.AcmeEmail]: 'a@example.com' } },
  {
    input: Input.AcmeEmail,
    valid: 'admin@example.com',
    separator: ',',
    with: { [Input.Tls]: 'auto' }
  },
  {
    input: Input.AcmeDirectory,
    valid: 'https://acme.example.com/directory',
    separator: ' ',
    with: { [Input.Tls]: 'auto', [Input.AcmeEmail]: 'a@example.com' }
  },
  {
    input: Input.AcmeDirectoryCa,
    valid: TEST_CA_PEM,
    separator: '\n',
    with: { [Input.Tls]: 'auto', [Input.AcmeEmail]: 'a@example.com' }
  },
  { input: Input.HealthPath, valid: '/healthz', separator: ' ' },
  { input: Input.HealthExpect, valid: '200-399', separator: ',' },
  { input: Input.EnvironmentUrl, valid: 'https://example.com/', separator: ' ' },
  { input: Input.HealthUrl, valid: 'https://example.com/healthz', separator: ' ' },
  { input: Input.Timeout, valid: '30', separator: ' ' },
  { input: Input.CommandTimeout, valid: '600', separator: ' ' },
  { input: Input.HealthTimeout, valid: '60', separator: ' ' },
  { input: Input.DrainTimeout, valid: '30', separator: ' ' },
  { input: Input.KeepReleases, valid: '5', separator: ' ' },
  { input: Input.MaxParallel, valid: '1', separator: ' ' },
  { input: Input.LockWait, valid: '300', separator: ' ' },
  // Each name an argument of dpkg-query and apt-get, run as root.
  { input: Input.AptPackages, valid: 'python3-psycopg2', separator: ' ' },
  { input: Input.ProcessStopTimeout, valid: '300', separator: ' ' },
  { input: Input.SingletonHost, valid: 'app1.example.com', separator: ' ' },
  { input: Input.ManageHosts, valid: 'all', separator: ' ' },
  { input: Input.Maintenance, valid: 'on', separator: ' ' },
  // Each address becomes a file name nginx looks up.
  { input: Input.MaintenanceAllow, valid: '203.0.113.7', separator: ',' },
  // Quoted into journalctl's and tail's arguments.
  { input: Input.Logs, valid: '50', separator: ' ' },
  { input: Input.LogsSince, valid: '1h', separator: ' ', with: { [Input.Logs]: '50' } },
  // A preview's name becomes unit, site, user and path names; its domain a server name.
  {
    input: Input.Preview,
    valid: 'pr-1',
    separator: ' ',
    with: { [Input.PreviewDomain]: 'preview.example.net' }
  },
  {
    input: Input.PreviewDomain,
    valid: 'preview.example.com',
    separator: ' ',
    with: { [Input.Preview]: 'pr-1' }
  },
  {
    input: Input.PreviewLimit,
    valid: '3',
    separator: ' ',
    with: { [Input.Preview]: 'pr-1', [Input.PreviewDomain]: 'preview.example.net' }
  },
  {
    input: Input.PreviewTtl,
    valid: '7',
    separator: ' ',
    with: { [Input.Preview]: 'pr-1', [Input.PreviewDomain]: 'preview.example.net' }
  },
  {
    input: Input.PreviewProcesses,
    valid: 'true',
    separator: ' ',
    with: { [Input.Preview]: 'pr-1', [Input.PreviewDomain]: 'preview.example.net' }
  },
  // The admin's URL: its values reach the database steps on stdin, its host the app's dotenv.
  {
    input: Input.PreviewDatabaseUrl,
    valid: 'postgres://admin:pw@127.0.0.1:5432/postgres',
    separator: ' ',
    with: { [Input.Preview]: 'pr-1', [Input.PreviewDomain]: 'preview.example.net' }
  },
  // Names written into SQL and the dotenv.
  {
    input: Input.PreviewDatabaseTemplate,
    valid: 'staging_copy',
    separator: ' ',
    with: {
      [Input.Preview]: 'pr-1',
      [Input.PreviewDomain]: 'preview.example.net',
      [Input.PreviewDatabaseUrl]: 'postgres://admin:pw@127.0.0.1/postgres'
    }
  },
  {
    input: Input.PreviewDatabaseEnv,
    valid: 'DATABASE_URL',
    separator: ' ',
    with: {
      [Input.Preview]: 'pr-1',
      [Input.PreviewDomain]: 'preview.example.net',
      [Input.PreviewDatabaseUrl]: 'postgres://admin:pw@127.0.0.1/postgres'
    }
  },
  // The names of processes and schedules become unit names.
  {
    input: Input.Processes,
    valid: 'worker',
    separator: ': a\n',
    place: (name) => `${name}: python -m celery worker`
  },
  {
    input: Input.Schedules,
    valid: 'reports',
    separator: ': { on: daily, run: a }\n',
    place: (name) => `${name}: { on: daily, run: python manage.py report }`
  },
  { input: Input.SharedPaths, valid: 'db.sqlite3', separator: '\n' },
  { input: Input.WritablePaths, valid: '/srv/mysite/cache', separator: '\n' },
  // A local folder, but its name is shown in the upload step's title.
  { input: Input.Source, valid: '.', separator: ' ' },
  // Booleans become true or false; nothing else may get through either.
  ...[
    Input.InsecureSkipHostKeyCheck,
    Input.SystemSitePackages,
    Input.Migrate,
    Input.Collectstatic,
    Input.CheckDeploy,
    Input.Deployment,
    Input.DryRun,
    Input.Rollback,
    Input.Backup,
    Input.Force,
    Input.Remove,
    Input.MaintenanceDuringMigrations,
    Input.Provision
  ].map((input) => ({ input, valid: 'true', separator: ' ' })),
  // Only with a rollback.
  {
    input: Input.RestoreDatabase,
    valid: 'true',
    separator: ' ',
    with: { [Input.Rollback]: 'true', [Input.Source]: 'none' }
  },
  // The keys of dotenv (its values are free text): KEY<hostile>=value.
  { input: Input.Dotenv, valid: 'KEY', separator: '=1\n', place: (key) => `${key}=value` }
]

/** Documented free text: accepted, and shown harmless downstream by the tests at the end. */
const FREE_TEXT = [
  Input.BuildCommands,
  Input.PreRestart,
  Input.PostDeploy,
  Input.NginxDirectives,
  Input.Exclude,
  Input.Environment,
  // Words, each quoted into the command (__tests__/operations.test.ts runs hostile ones).
  Input.Manage
]

/**
 * Used on the runner only, never written into a command, a unit or the site: the SSH credentials
 * and pins (given to the SSH library and the host key check) and the GitHub token.
 */
const RUNNER_ONLY = [
  Input.Key,
  Input.Passphrase,
  Input.Password,
  Input.KnownHosts,
  Input.Fingerprint,
  Input.GithubToken,
  // A file of the workspace, read on the runner; its text reaches the host base64-encoded.
  Input.MaintenancePage
]

/**
 * Where a space separates the items of a list (server-name `a.example.com b.example.com`,
 * gunicorn-args `--timeout 60`), ' x y ' is two more valid items, not a hostile value: each item
 * is checked on its own, which the other corpus entries after the separator show.
 */
const SPACE_SEPARATED = new Set<Input>([
  Input.ServerName,
  Input.GunicornArgs,
  Input.DependencyGroups
])

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hostile-'))
  workspace = join(dir, 'workspace')
  mkdirSync(workspace)
  writeFileSync(join(workspace, 'manage.py'), '')
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'test',
    '-f',
    join(dir, 'key')
  ])
})

afterAll(() => {
  // The last word: no hostile value was ever run by a shell in these tests.
  const pwned = existsSync(mark)
  rmSync(mark, { force: true })
  rmSync(dir, { recursive: true, force: true })
  expect(pwned).toBe(false)
})

function read(overrides: Record<string, string>): Settings {
  const values: Record<string, string> = {
    host: 'app1.example.com',
    username: 'deploy',
    key: readFileSync(join(dir, 'key'), 'utf8'),
    'insecure-skip-host-key-check': 'true',
    'project-name': 'mysite',
    'server-name': 'example.com',
    ...overrides
  }
  return readSettings({ getInput: (name) => values[name] ?? '', workspace })
}

/** The error the overrides raise, or undefined when they are accepted. */
const refusal = (overrides: Record<string, string>) => inputError(() => read(overrides))

describe('every hostile value is refused by every input that reaches a shell, a unit or the site', () => {
  test('every input of the action is in the table, free text, or used on the runner only', () => {
    // A new input has to be put in one of the three, and so be checked here.
    const covered = [...TABLE.map((row) => row.input), ...FREE_TEXT, ...RUNNER_ONLY]
    expect([...new Set(covered)].sort()).toEqual(Object.values(Input).sort())
  })

  test('the valid values of the table are accepted (so a refusal below is the hostile part)', () => {
    for (const row of TABLE) {
      const place = row.place ?? ((t: string) => t)
      expect(refusal({ ...row.with, [row.input]: place(row.valid) })).toBeUndefined()
    }
  })

  test('100% of the table is refused, each time naming the input', () => {
    const outcomes: Array<{ case: string; outcome: string }> = []
    let cases = 0
    for (const row of TABLE) {
      const place = row.place ?? ((t: string) => t)
      for (const [name, hostile] of corpus()) {
        if (name === 'spaces' && SPACE_SEPARATED.has(row.input)) continue
        const forms: Array<[string, string]> = [
          ['alone', hostile],
          ['appended', row.valid + hostile],
          ['as another item', row.valid + row.separator + hostile]
        ]
        for (const [form, text] of forms) {
          cases++
          const error = refusal({ ...row.with, [row.input]: place(text) })
          const label = `${row.input}: ${name}, ${form}`
          if (!error) outcomes.push({ case: label, outcome: 'accepted' })
          else if (
            error.input !== row.input ||
            !error.message.startsWith(`Input '${row.input}': `)
          ) {
            outcomes.push({
              case: label,
              outcome: `refused, but named ${error.input}: ${error.message}`
            })
          }
        }
      }
    }
    // Every case is a refusal that names its input: the list of exceptions is empty.
    expect(outcomes).toEqual([])
    expect(cases).toBe(TABLE.length * corpus().length * 3 - SPACE_SEPARATED.size * 3)
  })

  test('the refusal says what is allowed, and never prints a control character back', () => {
    for (const row of TABLE) {
      const place = row.place ?? ((t: string) => t)
      for (const [, hostile] of corpus()) {
        const error = refusal({ ...row.with, [row.input]: place(row.valid + hostile) })
        if (!error) continue
        if (error.message.length >= 600) console.log(row.input, error.message.slice(0, 300))
        expect(error.message.length).toBeLessThan(600)
        expect(error.message).not.toMatch(/[\u0000-\u001f\u007f\u202e]/)
      }
    }
  })

  test('a NUL byte is refused by every input, free text and secrets included', () => {
    for (const input of Object.values(Input)) {
      const error = refusal({ [input]: 'ok\u0000ok' })
      expect({ input, message: error?.message }).toEqual({
        input,
        message: `Input '${input}': contains a NUL byte`
      })
    }
  })
})

describe("the project's own STATIC_ROOT and MEDIA_ROOT: appFolderProblem refuses the corpus", () => {
  // The server reads them from the project's settings, which may be hostile; it hands the folder
  // to the app user only when appFolderProblem finds none.
  const where = { deployPath: '/srv/mysite', appUser: 'mysite' }
  const VALID = '/srv/mysite/shared/media'

  test.each(corpus())('%s', (_name, hostile) => {
    expect(appFolderProblem(VALID, where)).toBeUndefined()
    for (const path of [hostile, VALID + hostile, `${VALID}/${hostile}`, `${hostile}/${VALID}`]) {
      const problem = appFolderProblem(path, where)
      expect({ path, problem }).toEqual({ path, problem: expect.any(String) })
      expect(problem).not.toMatch(/[\u0000-\u001f\u007f\u202e\u200b]/)
      expect(problem!.length).toBeLessThan(600)
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Free text: accepted where documented, and harmless downstream.

/** Everything the plan would send to a host or write on it, for the given settings. */
function everythingSent(s: Settings): string {
  const facts = hostFacts({ instance: 'blue' })
  const found = {
    staticUrl: '/static/',
    staticRoot: `${s.deployPath}/static`,
    mediaUrl: '/media/',
    mediaRoot: `${s.deployPath}/shared/media`
  }
  const files = configFiles(s, facts, found)
  const steps = [
    inspectStep(s),
    prepareStep(s),
    dotenvStep(s),
    uploadStep(s, RELEASE),
    venvStep(s, RELEASE, '0123456789abcdef'),
    discoverStep(s, RELEASE),
    ...djangoSteps(s, RELEASE, found),
    installConfigStep(s, files),
    startStep(s, RELEASE, 'green', files),
    instanceHealthStep(s, 'green'),
    switchStep(s, RELEASE, 'green', 'blue', files),
    healthStep(s),
    diagnosticsStep(s, 'green'),
    abandonStep(s, 'green'),
    rollbackStep(s, RELEASE, 'green', 'blue', files),
    drainStep(s, 'blue'),
    pruneStep(s, 5, RELEASE, ''),
    hookStep(s, RELEASE, 'post-deploy', s.postDeploy, 'cleanup')
  ]
  return [
    ...steps.map((step) => step.command.text),
    files.socket.text,
    files.service.text,
    files.site.text
  ].join('\n')
}

describe('pre-restart and post-deploy: shell by design, run only as the app user in the release', () => {
  /**
   * Runs a step with a stand-in for systemd-run that records its arguments and what it reads
   * instead of running them: the outer (root) shell must pass the script on untouched, on stdin,
   * and run none of it itself.
   */
  function systemdRun(command: string, deployPath: string): { args: string[]; stdin: string } {
    mkdirSync(`${deployPath}/releases/${RELEASE}`, { recursive: true })
    const record = join(dir, 'systemd-run-args')
    const input = join(dir, 'systemd-run-stdin')
    rmSync(record, { force: true })
    // A stand-in on PATH (dash takes no '-' in a function's name), the step run by dash as on a
    // server, where /bin/sh is dash.
    const bin = join(dir, 'bin')
    mkdirSync(bin, { recursive: true })
    writeFileSync(
      join(bin, 'systemd-run'),
      `#!/bin/sh\nprintf '%s\\0' "$@" > ${record}; cat > ${input}\n`,
      { mode: 0o755 }
    )
    execFileSync('dash', ['-c', command], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }
    })
    return {
      args: readFileSync(record, 'utf8').split('\0').slice(0, -1),
      stdin: readFileSync(input, 'utf8')
    }
  }

  test.each(corpus().filter(([name]) => name !== 'a NUL byte'))('%s', (_name, hostile) => {
    const deployPath = join(dir, 'srv', 'mysite')
    const script = `echo start\n${hostile}`.replace(/\r\n?/g, '\n').trim()
    // A deploy path in this test's folder (which deploy-path would refuse): the steps run here.
    const s = { ...read({ 'pre-restart': script, 'post-deploy': script }), deployPath }
    expect(s.preRestart).toBe(script)
    expect(s.postDeploy).toBe(script)
    const preRestart = djangoSteps(s, RELEASE, {}).find((step) => step.id === 'pre-restart')
    for (const step of [preRestart, hookStep(s, RELEASE, 'post-deploy', s.postDeploy, 'cleanup')]) {
      expect(step).toBeDefined()
      const { args, stdin } = systemdRun(step!.command.text, deployPath)
      expect(args).toContain('--uid=mysite')
      expect(args.slice(-3)).toEqual(['--', '/bin/sh', '-s'])
      expect(args.join(' ')).not.toContain('echo start')
      expect(stdin.endsWith(`\n${script}`)).toBe(true)
    }
    expect(existsSync(mark)).toBe(false)
  })
})

describe('build-commands: manage.py commands by design, each word passed as one argument', () => {
  /** The script a step hands to systemd-run (on its stdin), run with a stand-in for python. */
  function pythonArguments(command: string): string[][] {
    const encoded = /printf %s (\S+) \| base64 -d \| systemd-run/.exec(command)?.[1] ?? ''
    const inner = Buffer.from(encoded.replace(/\\/g, ''), 'base64').toString()
    const record = join(dir, 'python-args')
    rmSync(record, { force: true })
    execFileSync('/bin/sh', [
      '-c',
      `python() { printf '%s\\0' "$@" >> ${record}; printf '\\036' >> ${record}; }\n${inner}`
    ])
    // One record per call (the script itself has line breaks).
    return readFileSync(record, 'utf8')
      .split('\x1e')
      .filter((line) => line !== '')
      .map((line) => line.split('\0').slice(0, -1))
  }

  test.each(corpus())('%s', (_name, hostile) => {
    const error = refusal({ 'build-commands': `compilemessages ${hostile}` })
    if (error) {
      expect(error.input).toBe(Input.BuildCommands)
      return
    }
    const s = read({ 'build-commands': `compilemessages ${hostile}` })
    const django = djangoSteps(s, RELEASE, {}).find((step) => step.id === 'django')
    expect(django).toBeDefined()
    // python -c <the Django process> <what it does, as JSON> <its folder>
    const [args] = pythonArguments(django!.command.text)
    expect(args[0]).toBe('-c')
    expect((JSON.parse(args[2]) as { commands: string[][] }).commands).toEqual(s.buildCommands)
    expect(existsSync(mark)).toBe(false)
  })
})

describe('dotenv values: written through stdin, read back byte for byte by sh (and systemd)', () => {
  test.each(corpus())('%s', (_name, hostile) => {
    const error = refusal({ dotenv: `VALUE=${hostile}` })
    if (error) {
      // Refused values: NUL, the 5000-character one (too long) and the control characters.
      expect(error.input).toBe(Input.Dotenv)
      return
    }
    const s = read({ dotenv: `VALUE=${hostile}` })
    // A line break ends the line: what follows is a line of its own, checked as KEY=VALUE.
    const value = s.dotenv[0][1]
    expect(hostile.trim().startsWith(value) || hostile.includes(value)).toBe(true)
    // The values travel on stdin, never on a command line.
    expect(dotenvStep(s).command.text).not.toContain(value === '' ? '\u0000' : `VALUE`)
    const file = join(dir, '.env')
    writeFileSync(file, dotenvText(s))
    const seen = execFileSync(
      '/bin/sh',
      ['-c', `set -a; . ${file}; set +a; printf '%s' "$VALUE"`],
      {
        encoding: 'utf8'
      }
    )
    expect(seen).toBe(value)
    expect(existsSync(mark)).toBe(false)
  })

  test('each value is one line of the file', () => {
    const s = read({ dotenv: `A=${'$(id)'}\nB=a"b\\c\`d'e\nC=%h ехаmple \u202E` })
    expect(dotenvText(s).split('\n').slice(0, -1)).toHaveLength(3)
  })
})

describe('exclude and environment: used on the runner only, never sent to a host', () => {
  const MARKER = 'HOSTILE-MARKER'

  test.each(corpus().filter(([name]) => name !== 'a NUL byte'))('%s', (_name, hostile) => {
    const pattern = `${MARKER}${hostile}`
    const excludeRefusal = refusal({ exclude: pattern })
    if (excludeRefusal) expect(excludeRefusal.input).toBe(Input.Exclude)
    else {
      const s = read({ exclude: pattern })
      expect(s.exclude.join('\n')).toContain(MARKER)
      // A pattern only decides what is left out of the upload; it cannot fail the matcher.
      expect(typeof excluder(s.exclude)('manage.py')).toBe('boolean')
      expect(everythingSent(s)).not.toContain(MARKER)
    }

    const environmentRefusal = refusal({ environment: `${MARKER}${hostile}` })
    if (environmentRefusal) expect(environmentRefusal.input).toBe(Input.Environment)
    else expect(everythingSent(read({ environment: `${MARKER}${hostile}` }))).not.toContain(MARKER)
  })
})

describe('nginx-directives: free nginx text, but never outside the server block', () => {
  /**
   * The top-level entries of an nginx file, read the way nginx reads it (ngx_conf_read_token):
   * written apart from settings.ts on purpose, and run on the rendered site, not on the input.
   */
  function topLevel(text: string): string[] {
    const found: string[] = []
    let depth = 0
    let words: string[] = []
    let word: string | undefined
    let quote = ''
    let escaped = false
    let comment = false
    let dollar = false
    const endWord = () => {
      if (word !== undefined) words.push(word)
      word = undefined
    }
    for (const c of text) {
      if (comment) {
        if (c === '\n') comment = false
        continue
      }
      if (escaped) {
        word = (word ?? '') + c
        escaped = false
        continue
      }
      if (quote) {
        if (c === '\\') escaped = true
        else if (c === quote) {
          quote = ''
          endWord()
        } else word += c
        continue
      }
      const atStart = word === undefined
      if (c === '\\') {
        escaped = true
        continue
      }
      if (atStart && (c === '"' || c === "'")) {
        quote = c
        word = ''
        continue
      }
      if (atStart && c === '#') {
        comment = true
        continue
      }
      if (c === '{' && !atStart && dollar) {
        word += c
        continue
      }
      dollar = c === '$'
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') endWord()
      else if (c === ';' || c === '{') {
        endWord()
        if (words.length === 0) throw new Error(`an empty directive before '${c}'`)
        if (depth === 0) found.push(words.join(' ') + (c === '{' ? ' {' : ';'))
        if (c === '{') depth++
        words = []
      } else if (c === '}' && atStart) {
        if (words.length > 0)
          throw new Error(`'}' after the unfinished directive ${words.join(' ')}`)
        if (--depth < 0) throw new Error("a '}' closes more blocks than were opened")
      } else word = (word ?? '') + c
    }
    if (quote || escaped || word !== undefined || words.length > 0 || depth !== 0) {
      throw new Error('the file does not end where nginx expects it to')
    }
    return found
  }

  const site = (directives: string) => renderSite(read({ 'nginx-directives': directives }), {})

  test('the site without directives has an upstream and one server block', () => {
    expect(topLevel(site(''))).toEqual(['upstream gunicorn_mysite {', 'server {'])
  })

  const shapes: Array<[string, (hostile: string) => string]> = [
    ['as a word', (h) => `add_header X-Test ${h};`],
    ['in double quotes', (h) => `add_header X-Test "${h}";`],
    ['in single quotes', (h) => `add_header X-Test '${h}';`],
    ['after a comment mark', (h) => `add_header X-Test a#${h};`],
    ['on a line of its own', (h) => `gzip on;\n${h}\nserver { listen 8081; }`],
    ['in a location block', (h) => `location /x/ { return 200 ${h}; }`]
  ]

  test.each(shapes)(
    'each hostile value %s: refused, or kept inside the server block',
    (_shape, make) => {
      for (const [name, hostile] of corpus()) {
        const directives = make(hostile)
        const error = refusal({ 'nginx-directives': directives })
        if (error) {
          expect({ name, input: error.input }).toEqual({ name, input: Input.NginxDirectives })
          continue
        }
        expect({ name, blocks: topLevel(site(directives)) }).toEqual({
          name,
          blocks: ['upstream gunicorn_mysite {', 'server {']
        })
      }
    }
  )

  test.each([
    [
      'a } that closes the server block',
      'gzip on;\n}\nserver { listen 8081; return 200 x; }\nserver {\nlisten 8082;'
    ],
    ['a # inside a word', 'return 200 a#;}\nserver { listen 8081; return 200 x; add_header X a};'],
    ["a ' inside a word", "add_header X a'b;}\nserver { listen 8081; add_header Y c'd;"],
    ['an escaped line break', 'add_header X a\\\n#;} server { listen 8081; return 200 x;'],
    [
      'an escaped space at the end of a line',
      'add_header X a\\ \n#;} server { listen 8081; return 200 x;'
    ]
  ])('a second server smuggled in with %s is refused', (_name, directives) => {
    const error = refusal({ 'nginx-directives': directives })
    expect(error?.input).toBe(Input.NginxDirectives)
  })

  // Where nginx is installed, it has the last word: these payloads are real (nginx takes them,
  // second server and all, when nothing checks them), and what the check lets through never
  // puts a server of its own beside ours.
  // In CI nothing skips: the set-up installs nginx, and a missing one fails these tests.
  const nginxTest = (() => {
    try {
      execFileSync('nginx', ['-v'], { stdio: 'ignore' })
      return test
    } catch {
      return process.env.CI ? test : test.skip
    }
  })()

  function nginxAccepts(siteText: string): boolean | undefined {
    const prefix = join(dir, 'nginx')
    mkdirSync(prefix, { recursive: true })
    writeFileSync(join(prefix, 'site.conf'), siteText)
    writeFileSync(
      join(prefix, 'nginx.conf'),
      `error_log ${prefix}/error.log;\npid ${prefix}/nginx.pid;\nevents {}\nhttp { access_log off; include ${prefix}/site.conf; }\n`
    )
    try {
      execFileSync('nginx', ['-t', '-q', '-p', `${prefix}/`, '-c', `${prefix}/nginx.conf`], {
        stdio: 'pipe'
      })
      return true
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr ?? '')
      // Not allowed to test a configuration here at all (no root for its temp folders): no verdict.
      return /Permission denied|could not open error log/.test(stderr) ? undefined : false
    }
  }

  nginxTest('nginx -t: the payloads work when unchecked, and nothing checked adds a server', () => {
    const base = read({ listen: '127.0.0.1:18080' })
    if (nginxAccepts(renderSite(base, {})) === undefined) return
    const smuggled = [
      'return 200 a#;}\nserver { listen 127.0.0.1:18081; return 200 x; add_header X a};',
      "add_header X a'b;}\nserver { listen 127.0.0.1:18081; add_header Y c'd;"
    ]
    for (const directives of smuggled) {
      expect(nginxAccepts(renderSite({ ...base, nginxDirectives: directives }, {}))).toBe(true)
      expect(refusal({ 'nginx-directives': directives })?.input).toBe(Input.NginxDirectives)
    }
    for (const [, make] of shapes) {
      for (const [name, hostile] of corpus()) {
        const directives = make(hostile).replace('listen 8081', 'listen 127.0.0.1:18081')
        if (refusal({ 'nginx-directives': directives, listen: '127.0.0.1:18080' })) continue
        const text = renderSite(
          read({ 'nginx-directives': directives, listen: '127.0.0.1:18080' }),
          {}
        )
        // A server in the directives is nested in ours, which nginx refuses.
        if (directives.includes('18081'))
          expect({ name, directives, accepted: nginxAccepts(text) }).toEqual({
            name,
            directives,
            accepted: false
          })
      }
    }
  })
})

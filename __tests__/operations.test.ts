// Operations besides a deploy (manage): the inputs read, the step built (quoted, as the app user,
// in the live release, in the sandbox), the flow over a scripted transport (the lock held, the
// exit code, the failure's message), the log printed as it comes, and the audit line.

import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PassThrough } from 'node:stream'
import { auditEntry, deployHost, operationHost, operationHosts, runContext } from '../src/main.js'
import type { RunOptions, RunResult, Transport } from '../src/remote/connection.js'
import { exitCodeOutput, operationMarkdown, writeOperationReport } from '../src/report/operation.js'
import { untrustedStream } from '../src/report/untrusted.js'
import { createRollout } from '../src/rollout.js'
import { auditLine } from '../src/server/audit.js'
import { lockCommand } from '../src/server/lock.js'
import { manageStep } from '../src/server/operations.js'
import type { Operation, Settings } from '../src/settings.js'
import type { ShellText } from '../src/shell.js'
import { logOf, summaryOf } from './printed.js'
import { refusalOf, settingsFor, readInputs } from './settings-fixture.js'

const LIVE = '20261120T100000Z-aaaaaaa'
const dir = mkdtempSync(join(tmpdir(), 'dda-operations-'))
writeFileSync(join(dir, 'manage.py'), '')

const read = (overrides: Record<string, string>): Settings =>
  readInputs({ host: 'app1.example.com, app2.example.com', ...overrides }, dir)

function manage(line: string, overrides: Partial<Settings> = {}): Settings {
  const op = read({ manage: line }).operation
  return settingsFor({ operation: op, ...overrides })
}

describe('the manage inputs', () => {
  test('no manage: a deploy; manage: its words, on the first host unless manage-hosts: all', () => {
    expect(read({}).operation).toEqual({ kind: 'deploy' })
    expect(read({ manage: ' migrate --noinput ' }).operation).toEqual({
      kind: 'manage',
      argv: ['migrate', '--noinput'],
      line: 'migrate --noinput',
      hosts: 'first'
    })
    const quoted = read({ manage: `shell -c "print('a b')"`, 'manage-hosts': 'all' }).operation
    expect(quoted).toMatchObject({ argv: ['shell', '-c', "print('a b')"], hosts: 'all' })
    // Said as the whole command line, it is the same command.
    expect(read({ manage: 'python manage.py check' }).operation).toMatchObject({ argv: ['check'] })
  })

  test.each([
    ['a sequence', 'migrate; rm -rf /', "';'"],
    ['a pipeline', 'dumpdata | gzip', "'|'"],
    ['a redirection', 'dumpdata > /tmp/x', "'>'"],
    ['an expansion', 'createsuperuser --username $USER', '$'],
    ['a second line', 'migrate\ncheck', 'one line'],
    ['nothing after manage.py', 'manage.py', 'no command']
  ])('%s is refused, naming manage and what is allowed', (_, line, said) => {
    const error = refusalOf(() => read({ manage: line }), { manage: line })
    expect(error.input).toBe('manage')
    expect(error.message).toContain(said)
    if (!line.startsWith('manage.py')) expect(error.message).toMatch(/allowed: a manage.py command/)
  })

  test('manage with rollback, or manage-hosts other than first or all, is refused', () => {
    const both = refusalOf(() => read({ manage: 'migrate', rollback: 'true', source: 'none' }), {})
    expect(both.input).toBe('manage')
    expect(both.message).toMatch(/rollback/)
    const hosts = refusalOf(() => read({ manage: 'migrate', 'manage-hosts': 'second' }), {})
    expect(hosts.input).toBe('manage-hosts')
    expect(hosts.message).toMatch(/first .* or all/)
  })

  test('manage-hosts: first runs on the first host, all on every host', () => {
    const two = [
      { name: 'a', port: 22 },
      { name: 'b', port: 22 }
    ]
    const op = (hosts: 'first' | 'all'): Operation => ({
      kind: 'manage',
      argv: ['check'],
      line: 'check',
      hosts
    })
    expect(operationHosts(settingsFor({ hosts: two, operation: op('first') }))).toEqual([two[0]])
    expect(operationHosts(settingsFor({ hosts: two, operation: op('all') }))).toEqual(two)
  })
})

/** The script the app user's shell runs (asApp sends it base64-encoded). */
function appScript(command: string): string {
  const encoded = /printf %s '?([A-Za-z0-9+/=]+)'? \| base64 -d/.exec(command)?.[1]
  expect(encoded).toBeDefined()
  return Buffer.from(encoded!, 'base64').toString()
}

describe('the manage step', () => {
  const mark = join(dir, 'pwned')
  const hostile = `shell -c "import os; os.system('touch ${mark}')" --name='a b' "semi;colon" 'it'"'"'s' "back\\\\slash" '%h' '#not-a-comment'`

  test('each word of a hostile command line reaches manage.py as one argument, none run by a shell', () => {
    const s = manage(hostile)
    const words = (s.operation as Extract<Operation, { kind: 'manage' }>).argv
    const bin = mkdtempSync(join(tmpdir(), 'dda-python-'))
    // A python that prints its arguments, one per line.
    writeFileSync(join(bin, 'python'), '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    chmodSync(join(bin, 'python'), 0o755)
    const body = appScript(manageStep(s, s.operation as never, LIVE).command.text)
    const out = execFileSync('sh', ['-c', body], {
      env: { PATH: `${bin}:/usr/bin:/bin` }
    }).toString()
    expect(out.split('\n').slice(0, -1)).toEqual(['manage.py', ...words])
    expect(words).toContain('--name=a b')
    expect(words).toContain("it's")
    expect(existsSync(mark)).toBe(false)
  })

  test('it runs as the app user, in the release current names, in the sandbox, with the .env', () => {
    const s = manage('migrate --noinput', { appUser: 'shop', deployPath: '/srv/shop' })
    const step = manageStep(s, s.operation as never, LIVE)
    const text = step.command.text
    expect(step.privileged).toBe(true)
    expect(text).toContain('--uid=shop --gid=shop')
    expect(text).toContain(`WorkingDirectory=/srv/shop/releases/${LIVE}`)
    expect(text).toContain('EnvironmentFile=-/srv/shop/.deploy/env')
    expect(text).toContain('Environment=DJANGO_SETTINGS_MODULE=mysite.settings')
    expect(text).toContain('ProtectSystem=strict')
    expect(text).toContain('RuntimeMaxSec=600')
    // It writes what the web app writes, never the release.
    expect(text).toContain('ReadWritePaths=/srv/shop/shared')
    expect(text).not.toMatch(new RegExp(`ReadWritePaths=[^ ']*releases`))
    expect(appScript(text)).toContain('exec python manage.py migrate --noinput 2>&1')
  })
})

type Answer = Partial<RunResult> & { chunks?: string[] }

/** Answers each step by its id; records what ran, and what the lock's holder was told. */
class ScriptedTransport implements Transport {
  readonly ran: Array<{ step: string; command: string; lockHeld: boolean }> = []
  lockHeld = false
  /** what the flow sent on the lock's stdin as it let go: the audit line */
  told = ''
  constructor(private readonly answers: Record<string, Answer>) {}

  async run(command: ShellText, options: RunOptions = {}): Promise<RunResult> {
    const step = options.step?.id ?? '?'
    this.ran.push({ step, command: command.text, lockHeld: this.lockHeld })
    if (step === 'lock') {
      this.lockHeld = true
      const first = this.answers[options.step?.first ?? ''] ?? {}
      const [out, err] = [Buffer.from(first.stdout ?? ''), Buffer.from('')]
      options.onStdout?.(Buffer.from(`STALE \nLOCKED\nTHEN 0 ${out.length} ${err.length}\n`))
      options.onStdout?.(out)
      const stdin = options.stdin as PassThrough
      stdin.on('data', (chunk: Buffer) => (this.told += chunk.toString()))
      await new Promise((resolve) => stdin.on('end', resolve))
      this.lockHeld = false
      return { code: 0, stdout: '', stderr: '', durationMs: 1 }
    }
    const answer = this.answers[step] ?? {}
    for (const chunk of answer.chunks ?? []) options.onStdout?.(Buffer.from(chunk))
    const stdout = answer.stdout ?? (answer.chunks ?? []).join('')
    return { code: 0, stderr: '', durationMs: 1, ...answer, stdout }
  }

  close(): void {}
}

const inspect = (live: string): Answer => ({
  stdout: `cpus=2\npython=3.11.2 /usr/bin/python3.11\nlive=${live}\nreleases=${live}\nfailed=\ninstance=blue\n`
})

const context = runContext({
  GITHUB_RUN_ID: '42',
  GITHUB_REPOSITORY: 'octo/shop',
  GITHUB_ACTOR: 'octocat'
})

async function operate(s: Settings, answers: Record<string, Answer>) {
  const transport = new ScriptedTransport({ inspect: inspect(LIVE), ...answers })
  const report = await operationHost(s, s.hosts[0], context, async () => transport)
  return { report, transport }
}

describe('a manage run on a host', () => {
  test('runs the command once, under the deploy lock, after the host check; exit 0 is success', async () => {
    const s = manage('migrate --noinput')
    const { report, transport } = await operate(s, {
      manage: { chunks: ['Operations to perform:\n', '  Apply all migrations: notes\n'] }
    })
    expect(transport.ran.map((r) => r.step)).toEqual(['lock', 'manage'])
    expect(transport.ran[1].lockHeld).toBe(true)
    expect(transport.lockHeld).toBe(false)
    expect(report.status).toBe('success')
    expect(report.release).toBe(LIVE)
    expect(report.operation).toMatchObject({ command: 'manage.py migrate --noinput', exitCode: 0 })
    expect(report.operation?.lastLines).toContain('Apply all migrations: notes')
    expect(exitCodeOutput([report])).toBe('0')
  })

  test('a non-zero exit fails the host, its last error line first, its status the exit code', async () => {
    const s = manage('createsuperuser --noinput')
    const { report, transport } = await operate(s, {
      manage: {
        code: 1,
        chunks: [
          'Traceback (most recent call last):\n',
          '  ...\n',
          'CommandError: You must use --username with --noinput.\n\n'
        ]
      }
    })
    expect(report.status).toBe('failure')
    expect(report.message.split('\n')[0]).toBe(
      'CommandError: You must use --username with --noinput.'
    )
    expect(report.message).toContain('exited with 1')
    expect(report.operation?.exitCode).toBe(1)
    expect(exitCodeOutput([report])).toBe('1')
    expect(transport.told).toContain('result="failure (exit 1)"')
    expect(operationMarkdown(s, [report])).toContain('CommandError: You must use --username')
  })

  test('a secret the command printed is not in the job summary, whatever Markdown escapes in it', async () => {
    const secret = 'django-insecure-k#7*w_9(zq)x^2'
    const s = manage('check', { dotenv: [['DJANGO_SECRET_KEY', secret]] })
    const { report } = await operate(s, {
      manage: { code: 1, stdout: `ValueError: bad key ${secret}\n` }
    })
    const written = await summaryOf(() => writeOperationReport(s, [report]))
    expect(written).toContain('ValueError: bad key \\*\\*\\*')
    for (const part of ['k#7', 'k\\#7', 'w_9', 'w\\_9']) expect(written).not.toContain(part)
  })

  test('no live release: nothing runs, and the message says to deploy first', async () => {
    const s = manage('migrate')
    const transport = new ScriptedTransport({ inspect: inspect('') })
    const report = await operationHost(s, s.hosts[0], context, async () => transport)
    expect(transport.ran.map((r) => r.step)).toEqual(['lock'])
    expect(report.status).toBe('failure')
    expect(report.message).toBe('nothing is deployed on app1.example.com yet: deploy first')
    expect(exitCodeOutput([report])).toBe('')
  })

  test('a dry run says what it would run, and runs nothing', async () => {
    const s = manage('migrate', { dryRun: true })
    let result: Awaited<ReturnType<typeof operate>> | undefined
    const log = await logOf(async () => (result = await operate(s, {})))
    expect(result!.transport.ran.map((r) => r.step)).toEqual(['lock'])
    expect(result!.report.status).toBe('success')
    expect(log).toContain('would run: manage.py migrate')
  })

  test('a manage line is no workflow command where the log names it', async () => {
    const line = "check '##[save-state name=deployment-id;'x=1]4242"
    for (const hosts of [1, 2]) {
      const s = manage(line, {
        dryRun: true,
        hosts: settingsFor({}).hosts.concat(hosts === 2 ? settingsFor({}).hosts : []),
        maxParallel: hosts
      })
      const log = await logOf(() => operate(s, {}))
      expect(log).toContain('would run: manage.py check')
      expect(log).not.toContain('##[save-state')
    }
  })

  test('its output is printed as it comes, once, with no line read as a workflow command', async () => {
    const s = manage('check')
    const log = await logOf(() =>
      operate(s, { manage: { chunks: ['::warning::x\n##[error]y\nhalf ', 'a line\n'] } })
    )
    // Read as the runner reads it: each line of the command's output comes while commands stop.
    let stoppedBy = ''
    const inside: string[] = []
    for (const line of log.split('\n')) {
      const stop = /^::stop-commands::(.+)$/.exec(line)
      if (!stoppedBy && stop) stoppedBy = stop[1]
      else if (stoppedBy && line === `::${stoppedBy}::`) stoppedBy = ''
      else if (stoppedBy) inside.push(line)
    }
    expect(stoppedBy).toBe('')
    expect(inside).toEqual(
      expect.arrayContaining(['::warning::x', '##\u200b[error]y', 'half a line'])
    )
    expect(log.split('::warning::x').length).toBe(2)
  })

  test('the lock is let go with the audit line: time, run, actor, mode, command, result', async () => {
    const s = manage('createsuperuser --username "x\ny"'.replace('\n', '\\n'))
    const { transport } = await operate(s, { manage: {} })
    const line = transport.told
    expect(line.split('\n')).toHaveLength(2)
    expect(line).toMatch(
      /^time="\d{4}-\d\d-\d\dT[\d:.]+Z" run="42" repository="octo\/shop" actor="octocat" mode="manage" argument="createsuperuser --username \\"x\\\\ny\\"" result="success \(exit 0\)"\n$/
    )
  })
})

describe('the audit line', () => {
  test('a deploy lets the lock go with its own line (no step more)', async () => {
    const s = settingsFor({ source: dir })
    const transport = new ScriptedTransport({ inspect: inspect('') })
    const rollout = createRollout(s.hosts, () => '20261125T081500Z-1a2b3c4')
    await deployHost(s, s.hosts[0], rollout, { ...context, sha: 'abc' }, async () => transport)
    expect(transport.told).toMatch(/mode="deploy" argument="abc" result="(success|failure)"\n$/)
  })

  test('every value is quoted, and a line break in one stays on the line', () => {
    const entry = {
      ...auditEntry(manage('check'), context),
      actor: 'a"b\nc',
      argument: "x'; rm -rf /\n"
    }
    const line = auditLine(new Date('2026-12-05T12:00:00Z'), entry, 'success')
    expect(line).not.toContain('\n')
    expect(line).toContain(String.raw`actor="a\"b\nc"`)
    expect(line).toContain(String.raw`argument="x'; rm -rf /\n"`)
    expect(auditEntry(settingsFor({ rollback: true, dryRun: true }), context).mode).toBe(
      'rollback (dry run)'
    )
  })

  // The lock command makes the deploy path root's: run only as root (CI is).
  const root = process.getuid?.() === 0
  ;(root ? test : test.skip)(
    "the lock's holder appends the line it is told, or says the run was cut short; 0640",
    () => {
      const s = settingsFor({ deployPath: join(mkdtempSync(join(tmpdir(), 'dda-audit-')), 'app') })
      const entry = auditEntry(manage('check'), context)
      const command = lockCommand(s, 'run 1', 5, undefined, entry).text
      const told = `${auditLine(new Date(), entry, 'success')}\n`
      expect(spawnSync('sh', ['-c', command], { input: told }).status).toBe(0)
      expect(spawnSync('sh', ['-c', command], { input: '' }).status).toBe(0)
      const log = join(s.deployPath, '.deploy', 'audit.log')
      const lines = readFileSync(log, 'utf8').split('\n')
      expect(lines[0]).toBe(told.trimEnd())
      expect(lines[1]).toMatch(/^time="[\d-]+T[\d:.]+Z" run="42" .* result="interrupted"$/)
      expect(lines).toHaveLength(3)
      expect(statSync(log).mode & 0o777).toBe(0o640)
      expect(statSync(join(s.deployPath, '.deploy')).mode & 0o777).toBe(0o700)
    }
  )
})

describe('the log printed as it comes', () => {
  /** The blocks printed: each between stop-commands and its own token, the token checked. */
  function blocks(printed: string[]): string[][] {
    const out: string[][] = []
    for (let i = 0; i < printed.length;) {
      const token = /^::stop-commands::(.+)$/.exec(printed[i])?.[1]
      expect(token).toBeDefined()
      const end = printed.indexOf(`::${token}::`, i)
      expect(end).toBeGreaterThan(i)
      out.push(printed.slice(i + 1, end))
      i = end + 1
    }
    return out
  }

  test('whole lines, each chunk a closed block, a character cut in two kept whole', () => {
    const printed: string[] = []
    const stream = untrustedStream((line) => printed.push(line), '[h] ')
    const bytes = Buffer.from('é')
    stream.write(Buffer.concat([Buffer.from('a secr'), bytes.subarray(0, 1)]))
    stream.write(Buffer.concat([bytes.subarray(1), Buffer.from('t\n::add-mask::x\nlast')]))
    stream.end()
    stream.write(Buffer.from('after the end\n'))
    expect(blocks(printed)).toEqual([['[h] a secrét', '[h] ::add-mask::x'], ['[h] last']])
  })

  test('a carriage return ends a line, as the runner reads them; \\r\\n cut in two is one end', () => {
    const printed: string[] = []
    const stream = untrustedStream((line) => printed.push(line), '[h] ')
    stream.write(Buffer.from('progress\r::set-output name=status::success\r'))
    stream.write(Buffer.from('\nnext ##[warning]x\n'))
    stream.end()
    expect(blocks(printed).flat()).toEqual([
      '[h] progress',
      '[h] ::set-output name=status::success',
      '[h] next ##\u200b[warning]x'
    ])
  })

  test('two hosts streaming at once: no block is open while the other prints', () => {
    const printed: string[] = []
    const a = untrustedStream((line) => printed.push(line), '[a] ')
    const b = untrustedStream((line) => printed.push(line), '[b] ')
    a.write(Buffer.from('one\n'))
    b.write(Buffer.from('::save-state name=deployment-id::4242\n'))
    a.end()
    b.write(Buffer.from('::set-output name=status::success\n'))
    b.end()
    // Every line of server text sits inside a closed block of its own stream.
    expect(blocks(printed)).toEqual([
      ['[a] one'],
      ['[b] ::save-state name=deployment-id::4242'],
      ['[b] ::set-output name=status::success']
    ])
  })
})

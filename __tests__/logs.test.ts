// The logs operation: its inputs (every refusal), the step (run by a shell against a journalctl
// that prints what it was asked, with the host's real grep, sed, tail and base64), the parts
// split from its output (server text that imitates a part or a workflow command stays text), the
// flow over a scripted transport (each part a folded group, inert), and the job summary.

import { execFileSync } from 'node:child_process'
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PassThrough } from 'node:stream'
import { auditEntry, operationHost, operationHosts, runContext } from '../src/main.js'
import type { RunOptions, RunResult, Transport } from '../src/remote/connection.js'
import {
  logSection,
  operationMarkdown,
  SUMMARY_LOGS_CHARS,
  writeOperationReport
} from '../src/report/operation.js'
import type { HostReport } from '../src/report/report.js'
import { NGINX_ERROR_LOG, SITE_AVAILABLE } from '../src/server/layout.js'
import { logsPlan, parseLogs, type LogPart } from '../src/server/logs.js'
import type { OperationOf, Settings } from '../src/settings.js'
import type { ShellText } from '../src/shell.js'
import { logOf, summaryOf } from './printed.js'
import { refusalOf, settingsFor, readInputs } from './settings-fixture.js'

const LIVE = '20261120T100000Z-aaaaaaa'
const NONCE = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'
const dir = mkdtempSync(join(tmpdir(), 'dda-logs-'))
writeFileSync(join(dir, 'manage.py'), '')

const read = (overrides: Record<string, string>): Settings =>
  readInputs({ host: 'app1.example.com, app2.example.com', ...overrides }, dir)

type Logs = OperationOf<'logs'>
const logsOf = (overrides: Record<string, string>) => read(overrides).operation as Logs

describe('the logs inputs', () => {
  test('logs: a number of lines; logs-since: a span sent as -span, or a time sent as given', () => {
    expect(read({}).operation).toEqual({ kind: 'deploy' })
    expect(logsOf({ logs: ' 200 ' })).toEqual({ kind: 'logs', lines: 200 })
    expect(logsOf({ logs: '1' }).lines).toBe(1)
    // Nothing is uploaded: no checkout needed.
    expect(logsOf({ logs: '5', source: 'none' }).lines).toBe(5)
    expect(logsOf({ logs: '10000' }).lines).toBe(10000)
    for (const [given, journal] of [
      ['1h', '-1h'],
      ['30min', '-30min'],
      ['2d', '-2d'],
      ['90s', '-90s'],
      ['1h 30min', '-1h 30min'],
      ['1w', '-1w'],
      ['2026-12-05', '2026-12-05'],
      ['2026-12-05 14:30', '2026-12-05 14:30'],
      ['2024-02-29 23:59:59', '2024-02-29 23:59:59']
    ])
      expect(logsOf({ logs: '50', 'logs-since': given }).since).toEqual({ given, journal })
  })

  test.each([
    ['0', 'a whole number from 1 to 10000'],
    ['10001', 'a whole number from 1 to 10000'],
    ['-5', "'-5' is not a number of lines"],
    ['1.5', "'1.5' is not a number of lines"],
    ['2e3', "'2e3' is not a number of lines"],
    ['all', "'all' is not a number of lines"],
    ['20 0', "'20 0' is not a number of lines"]
  ])('logs: %s is refused, naming logs and what is allowed', (lines, said) => {
    const error = refusalOf(() => read({ logs: lines }), { logs: lines })
    expect(error.input).toBe('logs')
    expect(error.message).toContain(said)
  })

  test.each([
    ['1 hour ago'],
    ['yesterday'],
    ['1y'],
    ['3M'],
    ['5'],
    ['-1h'],
    ['1h; rm -rf /'],
    ['$(id)'],
    ['2026-13-01'],
    ['2026-02-30'],
    ['2026-12-05 24:00'],
    ['2026-12-05T10:00'],
    ['2026-12-05 10:00 UTC']
  ])('logs-since: %s is refused, naming logs-since and what is allowed', (since) => {
    const error = refusalOf(() => read({ logs: '50', 'logs-since': since }), { since })
    expect(error.input).toBe('logs-since')
    expect(error.message).toContain('a span back from now (90s, 30min, 1h')
    expect(error.message).toContain('YYYY-MM-DD HH:MM')
  })

  test('logs-since without logs, logs with manage or with rollback: refused before anything is sent', () => {
    const alone = refusalOf(() => read({ 'logs-since': '1h' }), {})
    expect(alone.input).toBe('logs-since')
    expect(alone.message).toContain('logs is empty')
    const both = refusalOf(() => read({ logs: '50', manage: 'check' }), {})
    expect(both.message).toMatch(/^Input 'logs': runs one operation, and manage is another/)
    const back = refusalOf(() => read({ logs: '50', rollback: 'true', source: 'none' }), {})
    expect(back.message).toMatch(/^Input 'logs': .*rollback: true is another/)
  })

  test('logs runs on every host; its audit argument is the lines and the time', () => {
    const s = read({ logs: '50', 'logs-since': '1h 30min' })
    expect(operationHosts(s)).toEqual(s.hosts)
    expect(auditEntry(s, runContext({})).argument).toBe('50 since 1h 30min')
    expect(auditEntry(s, runContext({})).mode).toBe('logs')
  })
})

/** A host of files: a journalctl that prints its arguments and what a hostile app logged. */
function fakeHost() {
  const root = mkdtempSync(join(tmpdir(), 'dda-logs-host-'))
  const bin = join(root, 'bin')
  mkdirSync(bin)
  writeFileSync(
    join(bin, 'journalctl'),
    [
      '#!/bin/sh',
      'for a in "$@"; do printf "arg:%s\\n" "$a"; done',
      // What an app could print: a workflow command, and a line that imitates a part.
      `printf '%s\\n' '::warning::x' "${NONCE} audit Zm9yZ2Vk" '##[error]y'`,
      'echo "on stderr" >&2'
    ].join('\n')
  )
  chmodSync(join(bin, 'journalctl'), 0o755)
  const errorLog = join(root, 'error.log')
  writeFileSync(
    errorLog,
    [
      '2026/12/05 10:00:00 [error] 1#1: *1 connect() to unix:/run/gunicorn-mysite.sock failed (111: Connection refused) while connecting to upstream, client: 10.0.0.9, server: _, request: "GET / HTTP/1.1", upstream: "http://unix:/run/gunicorn-mysite.sock:/", host: "a"',
      '2026/12/05 10:00:01 [error] 1#1: *2 connect() to unix:/run/gunicorn-other.sock failed (111: Connection refused) while connecting to upstream, client: 10.0.0.9, server: _, request: "GET / HTTP/1.1"',
      '2026/12/05 10:00:02 [error] 1#1: *3 no live upstreams while connecting to upstream, client: 10.0.0.9, server: shop.example, request: "GET /x HTTP/1.1", upstream: "http://gunicorn_mysite/x", host: "b"',
      '2026/12/05 10:00:03 [error] 1#1: *4 open() "/srv/mysite/static/nope.css" failed (2: No such file or directory), client: 10.0.0.9, server: shop.example, request: "GET /static/nope.css HTTP/1.1"',
      '2026/12/05 10:00:04 [error] 1#1: *5 open() "/srv/mysite_old/x" failed, client: 10.0.0.9, server: shop.example.org, request: "GET /x HTTP/1.1"',
      ''
    ].join('\n')
  )
  const site = join(root, 'site')
  writeFileSync(
    site,
    'server {\n    listen 80;\n    server_name shop.example "*.shop.example";\n}\n'
  )
  const deployPath = join(root, 'srv')
  mkdirSync(join(deployPath, '.deploy'), { recursive: true })
  writeFileSync(
    join(deployPath, '.deploy', 'audit.log'),
    ['one', 'two', 'three', 'four'].map((w) => `run="${w}"`).join('\n') + '\n'
  )
  return { bin, errorLog, site, deployPath }
}

/** Runs the step's script as a shell would, with the host's paths moved to the fake host's. */
function runStep(
  s: Settings,
  plan: ReturnType<typeof logsPlan>,
  host: ReturnType<typeof fakeHost>
) {
  const text = plan.step.command.text
    .split(NGINX_ERROR_LOG)
    .join(host.errorLog)
    .split(`${SITE_AVAILABLE}/${s.projectName}`)
    .join(host.site)
  return execFileSync('sh', ['-c', text], {
    env: { PATH: `${host.bin}:/usr/bin:/bin` }
  }).toString()
}

/** journalctl's arguments in a part, one per line as the fake printed them. */
const args = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('arg:'))
    .map((l) => l.slice(4))

describe('the logs step', () => {
  const host = fakeHost()
  const s = settingsFor({ projectName: 'mysite', deployPath: host.deployPath })
  const op: Logs = { kind: 'logs', lines: 2, since: { given: '1h 30min', journal: '-1h 30min' } }
  const facts = {
    instance: 'green' as const,
    processUnits: ['mysite-worker.service', 'mysite-nightly.timer', "mysite-it's $(x).service"]
  }
  const plan = logsPlan(s, op, facts, NONCE)
  const parts = parseLogs(runStep(s, plan, host), NONCE, plan.parts)
  const text = (id: string) => parts.find((p) => p.id === id)?.text ?? ''

  test('one read-only root step; a part for the web, each unit found on the host, nginx, audit', () => {
    expect(plan.step.privileged).toBe(true)
    expect(plan.parts.map((p) => p.title)).toEqual([
      'journal of gunicorn-mysite@green.service (the live web instance)',
      "journal of mysite-it's $(x).service",
      'journal of mysite-nightly.timer',
      'journal of mysite-worker.service',
      "nginx's error log: the lines of mysite's site",
      `audit log (${host.deployPath}/.deploy/audit.log)`
    ])
  })

  test('journalctl gets the lines, the time and each unit as one word each, stderr with them', () => {
    expect(args(text('web'))).toEqual([
      '-n',
      '2',
      '--since=-1h 30min',
      '-u',
      'gunicorn-mysite@green.service',
      '--no-pager',
      '-o',
      'short-iso'
    ])
    expect(args(text('unit-1'))).toContain("mysite-it's $(x).service")
    expect(args(text('unit-3'))).toContain('mysite-worker.service')
    expect(text('web')).toContain('on stderr')
  })

  test("nginx's error log: the last lines naming the site's socket, upstream or server name", () => {
    const lines = text('nginx').split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toContain('*3 no live upstreams')
    expect(lines[1]).toContain('*4 open() "/srv/mysite/static/nope.css"')
    const all = parseLogs(
      runStep(s, logsPlan(s, { ...op, lines: 10 }, facts, NONCE), host),
      NONCE,
      plan.parts
    )
    const nginx = all.find((p) => p.id === 'nginx')?.text ?? ''
    expect(nginx).toContain('*1 connect() to unix:/run/gunicorn-mysite.sock')
    expect(nginx).not.toContain('gunicorn-other')
    expect(nginx).not.toContain('shop.example.org')
  })

  test("a catch-all site: another catch-all site's errors (server: _) are not its own", () => {
    const catchAll = fakeHost()
    writeFileSync(catchAll.site, 'server {\n    listen 80 default_server;\n    server_name _;\n}\n')
    // A static file missing below this site's deploy path, and below another's.
    appendFileSync(
      catchAll.errorLog,
      `2026/12/05 10:00:05 [error] 1#1: *6 open() "${s.deployPath}/current/static/gone.css" failed (2: No such file or directory), client: 10.0.0.9, server: _, request: "GET /static/gone.css HTTP/1.1"\n` +
        '2026/12/05 10:00:06 [error] 1#1: *7 open() "/srv/other/current/static/x.css" failed (2: No such file or directory), client: 10.0.0.9, server: _, request: "GET /static/x.css HTTP/1.1"\n'
    )
    const own = logsPlan(s, { kind: 'logs', lines: 10 }, facts, NONCE)
    const nginx =
      parseLogs(runStep(s, own, catchAll), NONCE, own.parts).find((p) => p.id === 'nginx')?.text ??
      ''
    expect(nginx).toContain('*1 connect() to unix:/run/gunicorn-mysite.sock')
    expect(nginx).not.toContain('*2 connect() to unix:/run/gunicorn-other.sock')
    expect(nginx).toContain('*6 open()')
    expect(nginx).not.toContain('*7 open()')
  })

  test('the audit log: its last lines', () => {
    expect(text('audit')).toBe('run="three"\nrun="four"')
  })

  test('server text that imitates a part or a workflow command stays in its part, as it was', () => {
    expect(text('web').split('\n')).toEqual(
      expect.arrayContaining(['::warning::x', `${NONCE} audit Zm9yZ2Vk`, '##[error]y'])
    )
    expect(text('audit')).not.toContain('forged')
  })

  test('the live instance decides the web unit: legacy, or both when none is live', () => {
    const legacy = logsPlan(s, op, { instance: 'legacy' }, NONCE)
    expect(legacy.step.command.text).toContain('-u gunicorn-mysite.service --no-pager')
    const none = logsPlan(s, op, { instance: '' }, NONCE)
    expect(none.parts[0].title).toMatch(
      /@blue.service and gunicorn-mysite@green.service \(no instance is live\)/
    )
    expect(none.parts.map((p) => p.id)).toEqual(['web', 'nginx', 'audit'])
  })
})

describe('the parts of the output', () => {
  const parts: LogPart[] = [
    { id: 'web', title: 'web' },
    { id: 'audit', title: 'audit' }
  ]
  const line = (nonce: string, id: string, text: string) =>
    `${nonce} ${id} ${Buffer.from(text).toString('base64')}`

  test('each part decoded from its own line; a line without the nonce, or a second one, is not a part', () => {
    const stdout = [
      `other audit ${Buffer.from('forged').toString('base64')}`,
      line(NONCE, 'web', 'é line\n::warning::x\n'),
      line(NONCE, 'audit', 'kept'),
      line(NONCE, 'audit', 'second'),
      `${NONCE} web not base64!`,
      ''
    ].join('\n')
    expect(parseLogs(stdout, NONCE, parts)).toEqual([
      { id: 'web', title: 'web', text: 'é line\n::warning::x' },
      { id: 'audit', title: 'audit', text: 'kept' }
    ])
  })

  test('a part the host never sent is empty', () => {
    expect(parseLogs('', NONCE, parts).map((p) => p.text)).toEqual(['', ''])
  })
})

/** Answers the lock with the host check and the logs step with `said`, under the run's nonce. */
class ScriptedTransport implements Transport {
  readonly ran: string[] = []
  constructor(
    private readonly facts: string,
    private readonly said: Record<string, string>
  ) {}

  async run(command: ShellText, options: RunOptions = {}): Promise<RunResult> {
    const step = options.step?.id ?? '?'
    this.ran.push(step)
    if (step === 'lock') {
      const out = Buffer.from(this.facts)
      options.onStdout?.(Buffer.from(`STALE \nLOCKED\nTHEN 0 ${out.length} 0\n`))
      options.onStdout?.(out)
      const stdin = options.stdin as PassThrough
      stdin.resume()
      await new Promise((resolve) => stdin.on('end', resolve))
      return { code: 0, stdout: '', stderr: '', durationMs: 1 }
    }
    const nonce = /printf '%s %s ' (\w+) web/.exec(command.text)?.[1] ?? ''
    const ids = [...command.text.matchAll(new RegExp(`'%s %s ' ${nonce} ([\\w-]+)`, 'g'))]
    const stdout = ids
      .map(([, id]) => `${nonce} ${id} ${Buffer.from(this.said[id] ?? '').toString('base64')}\n`)
      .join('')
    return { code: 0, stdout, stderr: '', durationMs: 1 }
  }

  close(): void {}
}

const facts = (live: string) =>
  `cpus=2\npython=3.11.2 /usr/bin/python3.11\nlive=${live}\nreleases=${live}\ninstance=${live ? 'blue' : ''}\nprocess-units=mysite-worker.service\n`

/** Each group's lines, as the runner folds them; and every line it would read as a command. */
function groups(log: string): { groups: Map<string, string[]>; commands: string[] } {
  const found = new Map<string, string[]>()
  const commands: string[] = []
  let open: string[] | undefined
  let stoppedBy = ''
  for (const line of log.split('\n')) {
    const stop = /^::stop-commands::(.+)$/.exec(line)
    if (!stoppedBy && stop) stoppedBy = stop[1]
    else if (stoppedBy && line === `::${stoppedBy}::`) stoppedBy = ''
    else if (!stoppedBy && line.startsWith('::group::')) found.set(line.slice(9), (open = []))
    else if (!stoppedBy && line === '::endgroup::') open = undefined
    else {
      if (!stoppedBy && /^::|##\[/.test(line)) commands.push(line)
      open?.push(line)
    }
  }
  return { groups: found, commands }
}

describe('a logs run on a host', () => {
  const secret = 'django-insecure-k#7*w_9(zq)x^2'
  const s = settingsFor({ operation: { kind: 'logs', lines: 50 }, dotenv: [['KEY', secret]] })
  const said = {
    web: `2026-12-05T10:00:00+00:00 app gunicorn[1]: GET /say\n::warning::x\n##[error]y\nkey ${secret}`,
    'unit-1': '2026-12-05T10:00:01+00:00 app python[2]: worker tick',
    nginx: '',
    audit: 'time="2026-12-05T09:00:00Z" mode="deploy" result="success"'
  }

  test('one step under the lock; each part a folded group, its text inert; kept for the summary', async () => {
    const t = new ScriptedTransport(facts(LIVE), said)
    let report: HostReport | undefined
    const log = await logOf(async () => {
      report = await operationHost(s, s.hosts[0], runContext({}), async () => t)
    })
    expect(t.ran).toEqual(['lock', 'logs'])
    expect(report?.status).toBe('success')
    const { groups: folded, commands } = groups(log)
    expect(commands).toEqual([])
    const web = folded.get('journal of gunicorn-mysite@blue.service (the live web instance)')
    expect(web).toEqual(expect.arrayContaining(['::warning::x', '##\u200b[error]y']))
    expect(folded.get('journal of mysite-worker.service')).toContain(
      '2026-12-05T10:00:01+00:00 app python[2]: worker tick'
    )
    expect(folded.get("nginx's error log: the lines of mysite's site")).toEqual(['(no lines)'])
    // The step's own group holds no part's text.
    // The step's own output is not printed as it came: the parts are, each once.
    expect(log).not.toContain(Buffer.from(said['unit-1']).toString('base64'))
    expect(log.split('worker tick')).toHaveLength(2)
    expect(report?.operation?.logs?.map((l) => l.text)).toEqual(Object.values(said))
  })

  test('nothing deployed: every part still shown, a success that says so', async () => {
    const t = new ScriptedTransport(facts(''), { audit: 'a line' })
    let report: HostReport | undefined
    await logOf(async () => {
      report = await operationHost(s, s.hosts[0], runContext({}), async () => t)
    })
    expect(t.ran).toEqual(['lock', 'logs'])
    expect(report?.status).toBe('success')
    expect(report?.message).toMatch(
      /^nothing of mysite is deployed on app1.example.com: no release is live/
    )
    expect(report?.operation?.logs?.[0].title).toContain('(no instance is live)')
  })

  test('the summary: each part folded, fenced, escaped, the secret redacted', async () => {
    const t = new ScriptedTransport(facts(LIVE), said)
    const report = await operationHost(s, s.hosts[0], runContext({}), async () => t)
    const written = await summaryOf(() => writeOperationReport(s, [report]))
    expect(written).toContain('logs: the last 50 lines on mysite: success')
    expect(written).toContain(
      '<details><summary>app1.example.com: journal of gunicorn-mysite@blue.service (the live web instance) (4 lines)</summary>'
    )
    expect(written).toContain(
      '```\n2026-12-05T10:00:00+00:00 app gunicorn[1]: GET /say\n::warning::x'
    )
    expect(written).toContain('key ***')
    for (const part of ['k#7', 'w_9']) expect(written).not.toContain(part)
    expect(written.match(/<details>/g)).toHaveLength(4)
    expect(written.match(/<\/details>/g)).toHaveLength(4)
  })
})

describe('the summary of the logs', () => {
  const report = (logs: Array<{ title: string; text: string }>): HostReport => ({
    host: 'app1',
    release: LIVE,
    previousRelease: LIVE,
    status: 'success',
    gates: [],
    phaseMs: {},
    durationMs: 1000,
    message: '',
    operation: { command: 'logs: the last 5 lines', logs }
  })

  test('a title is escaped; a fence in the text cannot close the block; an empty log says so', () => {
    const md = operationMarkdown(settingsFor({}), [
      report([
        { title: 'journal of <b>x</b>', text: '```\n</details>\n# not a heading' },
        { title: 'audit log', text: '' },
        { title: 'one', text: 'a line' }
      ])
    ])
    expect(md).toContain('<summary>app1: journal of &lt;b&gt;x&lt;/b&gt; (3 lines)</summary>')
    expect(md).toContain('```\n`\u200b``\n</details>\n# not a heading\n```')
    expect(md).toContain('<summary>app1: audit log (0 lines)</summary>\n\n\n*No lines.*')
    expect(md).toContain('<summary>app1: one (1 line)</summary>')
    // A blank line first: the table above ends before the section.
    expect(md).toContain('| ✅ success |\n\n<details>')
  })

  test("a log longer than its share keeps its last lines and says the rest is in the run's log", () => {
    const text = Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n')
    const section = logSection('app1', { title: 't', text }, 21).join('\n')
    expect(section).toContain("*The 7 lines before these are in the run's log only.*")
    expect(section).toContain('```\nline 7\nline 8\nline 9\n```')
    const big = 'x'.repeat(1000)
    const many = Array.from({ length: 2000 }, () => big).join('\n')
    const md = operationMarkdown(settingsFor({}), [report([{ title: 'a', text: many }])])
    expect(md.length).toBeLessThan(SUMMARY_LOGS_CHARS + 10_000)
  })
})

// Transient connection failures tried again (src/remote/retry.ts), against a real sshd: stopped,
// and started again while the deploy tries; a login refused is tried once; the tries fit in
// `timeout`. Counted on the host from sshd's own log lines.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ActionRun, runAction } from './action.js'
import { deployInputs, health, sshdLinesAfter, workspaceWith } from './fixture.js'
import { bootHost, type ExecResult, type TestHost } from './testhost.js'

let host: TestHost

beforeAll(async () => {
  host = await bootHost('retry')
  // VERBOSE: sshd logs every connection ("Connection from") and every failed login attempt.
  await must(
    host,
    `printf 'LogLevel VERBOSE\\n' > /etc/ssh/sshd_config.d/10-log.conf && systemctl restart ssh`
  )
})
afterAll(async () => {
  await host?.stop()
})

async function must(target: TestHost, cmd: string): Promise<ExecResult> {
  const result = await target.exec(cmd)
  if (result.code !== 0) {
    throw new Error(`${cmd} failed on ${target.name} (exit ${result.code}): ${result.stderr}`)
  }
  return result
}

/** A journal position: what a run did is read from the lines after it. */
async function journalCursor(target: TestHost): Promise<string> {
  const result = await must(
    target,
    'journalctl --sync; journalctl -n 0 --show-cursor -q --no-pager'
  )
  const cursor = /-- cursor: (\S+)/.exec(result.stdout)?.[1]
  if (!cursor) throw new Error(`no journal cursor on ${target.name}: ${result.stdout}`)
  return cursor
}

/** sshd's lines since the cursor. */
async function sshdLog(target: TestHost, cursor: string): Promise<string[]> {
  // sshd logs a closed connection just after the client is gone.
  await new Promise((resolve) => setTimeout(resolve, 500))
  return (await sshdLinesAfter(target, cursor)).filter((line) => line !== '')
}

/** The `::error` annotations of a run, one per line. */
const errors = (run: ActionRun) =>
  run.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error'))
    .join('\n')

const RETRY_LINE =
  /^Could not connect to (\S+): (.*)\. Trying again in (\d+\.\d) s \(try (\d) of 4\)\.$/gm

test('sshd stopped, and started again 2 s into the retries: the deploy succeeds, the log names each retry and its cause', async () => {
  await must(host, 'systemctl stop ssh')
  let starting: Promise<ExecResult> | undefined
  let timer: NodeJS.Timeout | undefined
  let seen = ''
  try {
    const run = await runAction(deployInputs(host), {
      workspace: workspaceWith('retried').workspace,
      onStdout: (text) => {
        seen += text
        // 2 s after the first retry, sshd comes back.
        if (!timer && seen.includes('Could not connect to')) {
          timer = setTimeout(() => (starting = host.exec('systemctl start ssh')), 2000)
        }
      }
    })
    expect(errors(run)).toBe('')
    expect(run.code).toBe(0)
    expect(run.outputs.status).toBe('success')
    expect((await health(host)).release).toBe(run.outputs.release)

    const retries = [...run.stdout.matchAll(RETRY_LINE)]
    expect(retries.length).toBeGreaterThanOrEqual(1)
    expect(retries.length).toBeLessThanOrEqual(3)
    retries.forEach((line, i) => {
      expect(line[1]).toBe(`${host.address}:22`)
      expect(line[2]).toBe('connection refused (ECONNREFUSED)')
      expect(Number(line[4])).toBe(i + 2)
    })
    // The waits grow: about 1 s, then 2 s.
    expect(Number(retries[0][3])).toBeGreaterThanOrEqual(0.8)
    expect(Number(retries[0][3])).toBeLessThanOrEqual(1.2)
  } finally {
    clearTimeout(timer)
    await starting
    await must(host, 'systemctl start ssh')
  }
})

test('a login refused is tried once: sshd sees one connection and one failed attempt', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'dda-key-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(folder, 'id')])
  const cursor = await journalCursor(host)
  const run = await runAction(
    deployInputs(host, { key: readFileSync(join(folder, 'id'), 'utf8') }),
    {
      workspace: workspaceWith('refused-login').workspace
    }
  )
  expect(run.code).toBe(1)
  expect(errors(run)).toContain(
    `authentication as root on ${host.address}:22 failed: the server did not accept the key`
  )
  expect(errors(run)).not.toContain('tries')
  expect(run.stdout).not.toMatch(RETRY_LINE)

  const log = await sshdLog(host, cursor)
  expect(log.filter((l) => l.startsWith('Connection from '))).toHaveLength(1)
  expect(log.filter((l) => /^Failed publickey for root /.test(l))).toHaveLength(1)
})

test('a port nothing listens on: tried again only while a try fits in timeout, the last error says how many', async () => {
  const run = await runAction(deployInputs(host, { host: `${host.address}:2223`, timeout: '3' }), {
    workspace: workspaceWith('no-sshd').workspace
  })
  expect(run.code).toBe(1)
  const message = errors(run)
  expect(message).toContain(
    `connection to ${host.address}:2223 refused: nothing listens on port 2223 there. Is sshd running`
  )
  // 1 s and 2 s of waits do not fit in 3 s with a second left for each try: the second is cut.
  const retries = [...run.stdout.matchAll(RETRY_LINE)]
  expect(retries.length).toBeGreaterThanOrEqual(1)
  expect(retries.length).toBeLessThanOrEqual(2)
  const tries = retries.length + 1
  expect(message).toMatch(new RegExp(`Failed after ${tries} tries in [0-2]\\.\\d s\\.`))
})

// manage on a real host, run as a GitHub runner runs the action: refused where nothing is deployed,
// then after a deploy a management command that writes a row (as the app user, in the live
// release), one that tries to write the release (refused by the sandbox: the step fails, its exit
// status in exit-code, its last error line first), output that looks like a workflow command
// (printed, not obeyed), and the audit log's lines on the host. One host for the file.
import { type ActionRun, runAction } from './action.js'
import { annotations, deployInputs, onHost, workspaceWith } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost
let workspace: string
// A dotenv value: masked in the log, and read by createsuperuser --noinput.
const PASSWORD = 'ops-pass-7d3f1b9e2a'

beforeAll(async () => {
  host = await bootHost('operations')
  workspace = workspaceWith('v1').workspace
})
afterAll(async () => {
  await host?.stop()
})

const inputs = (overrides: Record<string, string> = {}) =>
  deployInputs(host, { dotenv: `DJANGO_SUPERUSER_PASSWORD=${PASSWORD}`, ...overrides })

const manage = (line: string) => runAction(inputs({ manage: line }), { workspace })

/** The log without the server's text: what the runner reads commands from. */
function outsideServerText(stdout: string): string {
  return stdout.replace(/^::stop-commands::(\S+)\n[\s\S]*?^::\1::\n/gm, '')
}

/** The step's failure message (core.setFailed's annotation), decoded. */
const failure = (run: ActionRun) => annotations(run.stdout, 'error').at(-1)?.message ?? ''

describe('manage', () => {
  test('on a host where nothing is deployed: refused, nothing runs', async () => {
    const run = await manage('check')
    expect(run.code).not.toBe(0)
    expect(run.outputs.status).toBe('failure')
    expect(run.outputs['exit-code']).toBe('')
    expect(failure(run)).toContain(`nothing is deployed on ${host.address} yet: deploy first`)
  })

  test('after a deploy, a command that writes a row runs in the live release as the app user', async () => {
    const deploy = await runAction(inputs(), { workspace })
    expect(deploy.code).toBe(0)
    const release = deploy.outputs.release

    const run = await manage(
      'createsuperuser --noinput --username ops-admin --email ops@example.com'
    )
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.outputs.status).toBe('success')
    expect(run.outputs['exit-code']).toBe('0')
    expect(run.stdout).toContain('Superuser created successfully.')
    expect(run.summary).toContain('createsuperuser')
    expect(run.summary).toContain(release)
    const rows = await onHost(
      host,
      `python3 -c "import sqlite3; print(sqlite3.connect('/srv/mysite/shared/db.sqlite3').execute('select username, is_superuser from auth_user').fetchall())"`
    )
    expect(rows.trim()).toBe("[('ops-admin', 1)]")
    // The password came from the server's .env: the log has it only where it is registered as
    // a secret (the runner masks it everywhere else).
    const said = run.everything.split('\n').filter((line) => line.includes(PASSWORD))
    expect(said).toEqual([`::add-mask::${PASSWORD}`])

    const who = await manage(
      `shell -c "import os, pwd; print('user=' + pwd.getpwuid(os.getuid()).pw_name, 'cwd=' + os.getcwd())"`
    )
    expect(who.code).toBe(0)
    expect(who.stdout).toContain(`user=mysite cwd=/srv/mysite/releases/${release}`)
  })

  test('a command that writes into the release fails the step: exit-code, the last error line first', async () => {
    const run = await manage(`shell -c "open('written-by-manage', 'w')"`)
    expect(run.code).not.toBe(0)
    expect(run.outputs.status).toBe('failure')
    expect(run.outputs['exit-code']).toBe('1')
    const message = failure(run)
    expect(message.split('\n')[0]).toMatch(/^(OSError|PermissionError): \[Errno (30|13)\]/)
    expect(run.summary).toMatch(/\| 1 \|.*failure/)
    expect((await host.exec('ls /srv/mysite/current/written-by-manage')).code).not.toBe(0)
  })

  test('output that looks like a workflow command is printed, never obeyed', async () => {
    const run = await manage(`shell -c "print('::warning::x'); print('::add-mask::mysite')"`)
    expect(run.code).toBe(0)
    // Printed as the server said it, on lines of their own, inside the server text's block.
    const lines = run.stdout.split('\n')
    expect(lines).toContain('::warning::x')
    expect(lines).toContain('::add-mask::mysite')
    const outside = outsideServerText(run.stdout).split('\n')
    expect(outside).not.toContain('::warning::x')
    expect(outside).not.toContain('::add-mask::mysite')
    expect(annotations(outsideServerText(run.stdout), 'warning')).toEqual([])
  })

  test('every run left its line in the audit log, root-only', async () => {
    const log = await onHost(host, 'cat /srv/mysite/.deploy/audit.log')
    const lines = log.trim().split('\n')
    expect(lines).toHaveLength(6)
    for (const line of lines)
      expect(line).toMatch(
        /^time="[\d-]+T[\d:.]+Z" run="4242" repository="example\/mysite" actor="tester" mode="\w+" argument=".*" result=".+"$/
      )
    expect(lines[0]).toContain('mode="manage" argument="check" result="failure"')
    expect(lines[1]).toContain('mode="deploy"')
    expect(lines[1]).toContain('result="success"')
    expect(lines[2]).toContain(
      'argument="createsuperuser --noinput --username ops-admin --email ops@example.com" result="success (exit 0)"'
    )
    expect(lines[4]).toContain(
      `argument="shell -c \\"open('written-by-manage', 'w')\\"" result="failure (exit 1)"`
    )
    expect(await onHost(host, 'stat -c "%U %G %a" /srv/mysite/.deploy/audit.log')).toBe(
      'root root 640\n'
    )
  })
})

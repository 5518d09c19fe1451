// Privilege separation, end to end: a hostile repository and a compromised app user get nothing
// from root. Nothing of the repository runs as root, root follows no link the app or the
// repository planted, and no text a server prints is a workflow command to the runner.
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sandboxProperties } from '../../src/server/sandbox.js'
import { readSettings } from '../../src/inputs/settings.js'
import { type ActionRun, runAction } from './action.js'
import {
  appOwnedOutside as fixtureAppOwnedOutside,
  deployInputs,
  edit,
  health,
  onHost,
  systemState as fixtureSystemState,
  workspaceWith
} from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost

beforeAll(async () => {
  host = await bootHost('privilege')
})
afterAll(async () => {
  await host?.stop()
})

const must = (cmd: string) => onHost(host, cmd)

/** What root owns outside the deploy path (fixture.ts), and what the app owns there. */
const systemState = () => fixtureSystemState(host, 'mysite')
const appOwnedOutside = () => fixtureAppOwnedOutside(host, 'mysite')

/**
 * The lines of the runner's log that it would read as workflow commands, outside the blocks the
 * action opened with ::stop-commands:: (and `##[` anywhere, which some runners read in a line).
 */
function commandsSeen(stdout: string): string[] {
  const seen: string[] = []
  let token = ''
  for (const line of stdout.split('\n')) {
    if (token) {
      if (line === `::${token}::`) token = ''
      continue
    }
    const stop = /^::stop-commands::(.+)$/.exec(line)
    if (stop) token = stop[1]
    else if (/^::|##\[/.test(line)) seen.push(line)
  }
  return seen
}

/** The injected commands a test planted, as the runner would have read them. */
const injected = (run: ActionRun) =>
  commandsSeen(run.stdout).filter((line) => /injected|evil/.test(line))

const PRINTS_COMMANDS = `
import atexit, sys
for line in ('::add-mask::injected-mask', '::save-state name=evil::injected', '::warning::injected warning',
             '##[error]injected error', '::set-output name=status::injected'):
    print(line); print(line, file=sys.stderr)
`

describe('a hostile repository', () => {
  beforeAll(async () => {
    const { workspace } = workspaceWith('v1')
    const run = await runAction(deployInputs(host), { workspace })
    if (run.outputs.status !== 'success') throw new Error(`first deploy failed:\n${run.stdout}`)
  })

  test('modules that shadow compileall, venv and pip, a shipped failure mark, a local package whose setup.py writes outside: none of it runs as root', async () => {
    const { workspace, project } = workspaceWith('hostile')
    const marker = (name: string) => `
import os
for path in ('/etc/pwned-${name}', '/root/pwned-${name}', '/srv/pwned-${name}', '/usr/local/pwned-${name}'):
    try:
        open(path, 'w').write(str(os.getuid()))
    except OSError:
        pass
if os.getuid() == 0:
    print('PWNED-AS-ROOT by ${name}')
`
    writeFileSync(join(project, 'compileall.py'), marker('compileall'))
    writeFileSync(join(project, 'venv.py'), marker('venv'))
    mkdirSync(join(project, 'pip'))
    writeFileSync(join(project, 'pip', '__init__.py'), '')
    writeFileSync(join(project, 'pip', '__main__.py'), marker('pip'))
    // A failure mark that links to a system file: root once truncated it.
    symlinkSync('/etc/passwd', join(project, '.deploy-failed'))
    // A local package: its setup.py runs in the build, which may write only the release.
    mkdirSync(join(project, 'evil'))
    writeFileSync(
      join(project, 'evil', 'setup.py'),
      `${marker('setup')}
import os
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ran-as'), 'w').write(str(os.getuid()))
from setuptools import setup
setup(name='evil', version='1.0', py_modules=[])
`
    )
    writeFileSync(join(project, 'requirements.txt'), '-e ./evil\n')
    // Settings that print workflow commands, for the runner to (not) obey.
    edit(project, 'mysite/settings.py', (text) => `${text}\n${PRINTS_COMMANDS}`)

    const before = await systemState()
    const run = await runAction(deployInputs(host), { workspace })
    // It deploys (setup.py ran, as the app user, sandboxed), and nothing leaked.
    expect(run.outputs.status).toBe('success')
    expect(await systemState()).toBe(before)
    expect(run.everything).not.toContain('PWNED-AS-ROOT')
    expect(
      await must(
        'ls /etc/pwned-* /root/pwned-* /srv/pwned-* /usr/local/pwned-* 2>/dev/null || true'
      )
    ).toBe('')
    expect(await appOwnedOutside()).toBe('')
    expect(injected(run)).toEqual([])
    expect(run.stdout).not.toMatch(/##\[/)
    const release = run.outputs.release
    // setup.py did run, as the app user, and the release it wrote to is root's again.
    expect((await must(`cat /srv/mysite/releases/${release}/evil/ran-as`)).trim()).toBe(
      (await must('id -u mysite')).trim()
    )
    expect(await must(`stat -c %U /srv/mysite/releases/${release}/evil/ran-as`)).toBe('root\n')
    // The shipped mark is gone, not followed; the release is not taken for a failed one.
    expect((await host.exec(`test -e /srv/mysite/releases/${release}/.deploy-failed`)).code).toBe(1)
    expect((await health(host)).release).toBe(release)
  })

  test('a requirements file linked to a root-only file: no byte of it in any log, output or summary', async () => {
    const { workspace, project } = workspaceWith('shadow')
    const live = (await health(host)).release
    rmSync(join(project, 'requirements.txt'))
    symlinkSync('/etc/shadow', join(project, 'requirements.txt'))
    const shadow = (await must('cat /etc/shadow')).split('\n').filter((line) => line.includes(':'))
    const before = await systemState()
    const run = await runAction(deployInputs(host), { workspace })
    expect(run.outputs.status).toBe('failure')
    for (const line of shadow) expect(run.everything).not.toContain(line)
    expect(run.everything).not.toMatch(/root:[^:\s]*:\d+:/)
    expect(await systemState()).toBe(before)
    expect((await health(host)).release).toBe(live)
  })
})

describe('a compromised app user between two deploys', () => {
  test('links planted in every place the app may write, a hostile discovery line: root follows none, hands out nothing', async () => {
    const { workspace } = workspaceWith('after-compromise')
    // As the app user: every app-writable place gets a link to a system path.
    await must(
      [
        'cd /srv/mysite/shared',
        'runuser -u mysite -- sh -c "rm -rf media && ln -s /etc media"',
        'runuser -u mysite -- ln -sf /etc/ld.so.preload .env.new',
        'runuser -u mysite -- ln -sf /etc/shadow .env',
        'runuser -u mysite -- ln -sf /root staticfiles'
      ].join(' && ')
    )
    const live = (await health(host)).release
    const before = await systemState()
    const run = await runAction(
      deployInputs(host, { dotenv: 'DJANGO_MEDIA_ROOT=/srv/mysite/shared/media' }),
      { workspace }
    )
    // The media folder is a link now: the deploy refuses it, by name, and switches nothing.
    expect(run.outputs.status).toBe('failure')
    expect(run.stdout).toContain('/srv/mysite/shared/media is a link or not a folder')
    expect(await systemState()).toBe(before)
    expect(await appOwnedOutside()).toBe('')
    expect((await health(host)).release).toBe(live)
  })

  test('a .env the app wrote, that would print a discovery line and move MEDIA_ROOT: never sourced, never read', async () => {
    await must(
      'cd /srv/mysite/shared && rm -rf media && mkdir media && chown mysite:www-data media'
    )
    const env = [
      `echo 'DJANGO-SETTINGS {"MEDIA_ROOT": "/etc", "STATIC_ROOT": "/root"}'`,
      'DJANGO_MEDIA_ROOT=/etc'
    ].join('\n')
    await must(
      `echo ${Buffer.from(env).toString('base64')} | base64 -d | ` +
        'runuser -u mysite -- sh -c "rm -f /srv/mysite/shared/.env; cat > /srv/mysite/shared/.env"'
    )
    const before = await systemState()
    const run = await runAction(deployInputs(host), {
      workspace: workspaceWith('app-env').workspace
    })
    expect(run.outputs.status).toBe('success')
    expect(await systemState()).toBe(before)
    expect(await appOwnedOutside()).toBe('')
    expect(run.stdout).not.toContain('/etc is')
  })

  test('settings that print a discovery line naming /etc, and workflow commands: refused, and the runner obeys none', async () => {
    await must(
      'cd /srv/mysite/shared && rm -rf media && mkdir media && chown mysite:www-data media'
    )
    const { workspace, project } = workspaceWith('fake-discovery')
    edit(
      project,
      'mysite/settings.py',
      (text) =>
        `${text}\n${PRINTS_COMMANDS}\n` +
        // Changed since the live release: the Django process prints what the settings say now,
        // and the forged line comes after it.
        "STATIC_URL = '/assets/'\n" +
        'import atexit, json\n' +
        'atexit.register(lambda: print("DJANGO-SETTINGS " + json.dumps({"STATIC_URL": "/static/", ' +
        '"STATIC_ROOT": "/root", "MEDIA_URL": "/media/", "MEDIA_ROOT": "/etc"})))\n'
    )
    const live = (await health(host)).release
    const before = await systemState()
    const run = await runAction(deployInputs(host), { workspace })
    expect(run.outputs.status).toBe('failure')
    expect(run.stdout).toMatch(
      /STATIC_ROOT in the project's settings is \/root, outside deploy-path/
    )
    expect(await systemState()).toBe(before)
    expect(await appOwnedOutside()).toBe('')
    expect(injected(run)).toEqual([])
    expect((await health(host)).release).toBe(live)
  })
})

test("the build and Django steps' sandbox: systemd-analyze security exposure at most 2.0", async () => {
  const inputs = deployInputs(host)
  const s = readSettings({
    getInput: (name) => inputs[name] ?? '',
    workspace: workspaceWith('x').workspace
  })
  const unit = [
    '[Service]',
    'User=mysite',
    'ExecStart=/bin/true',
    ...sandboxProperties(s, ['/srv/mysite/shared'])
  ].join('\n')
  await must(`cat > /tmp/dda-build.service <<'EOF'\n${unit}\nEOF`)
  const out = await must('systemd-analyze security --offline=true /tmp/dda-build.service')
  const exposure = Number(/Overall exposure level for dda-build.service: ([\d.]+)/.exec(out)?.[1])
  console.log(`sandbox of the build and Django steps: exposure ${exposure}`)
  expect(exposure).toBeLessThanOrEqual(2.0)
})

describe('what root leaves behind', () => {
  test('the code is readable by the app, not by other users; nginx still serves the static files', async () => {
    const release = (await health(host)).release
    const code = `/srv/mysite/releases/${release}/manage.py`
    expect((await host.exec(`runuser -u mysite -- head -c1 ${code}`)).code).toBe(0)
    expect((await host.exec(`runuser -u nobody -- head -c1 ${code}`)).code).not.toBe(0)
    expect((await host.exec(`runuser -u www-data -- head -c1 ${code}`)).code).not.toBe(0)
    const css = await must(
      'curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1/static/notes/site.css'
    )
    expect(css).toBe('200')
  })

  test("a runner killed while the app's step runs: that step is stopped before the lock is let go", async () => {
    const { workspace } = workspaceWith('killed')
    // A step's output reaches the log when the step ends: the host says when the hook runs (its
    // unit), and the runner is killed then, not after the hook's 120 s.
    let child: ChildProcess | undefined
    const deploy = runAction(deployInputs(host, { 'pre-restart': 'sleep 120' }), {
      workspace,
      onStdout: (_, process) => (child = process)
    })
    let hook = ''
    for (let i = 0; i < 600 && !hook.includes('pre-restart'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      hook = await must("systemctl list-units --no-legend 'dda-mysite-*' | grep running || true")
    }
    expect(hook).toContain('pre-restart')
    child?.kill('SIGKILL')
    const run = await deploy
    expect(run.signal).toBe('SIGKILL')
    // The sandboxed step goes with the run's lock, well before its 120 s.
    let running = ''
    for (let i = 0; i < 40; i++) {
      running = await must(
        "systemctl list-units --no-legend 'dda-mysite-*' | grep -c running || true"
      )
      if (running.trim() === '0') break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    expect(running.trim()).toBe('0')
    expect(await must("pgrep -fx 'sleep 120' || true")).toBe('')
    // The next deploy takes the lock and goes live.
    const next = await runAction(deployInputs(host), {
      workspace: workspaceWith('after-kill').workspace
    })
    expect(next.outputs.status).toBe('success')
  })

  test("a first deploy into a folder that is someone else's, and not empty, is refused", async () => {
    await must(
      'mkdir -p /srv/theirs && echo data > /srv/theirs/file && chown -R nobody /srv/theirs'
    )
    const run = await runAction(deployInputs(host, { 'deploy-path': '/srv/theirs' }), {
      workspace: workspaceWith('theirs').workspace
    })
    expect(run.outputs.status).toBe('failure')
    expect(run.stdout).toContain("/srv/theirs exists, is not empty and is not root's")
    expect(await must('stat -c %U /srv/theirs/file')).toBe('nobody\n')
  })
})

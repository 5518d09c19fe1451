// The cutover's steps run with a real shell and stand-ins for every command that would change
// this machine (systemctl, ln, mv, rm, tee, ss): what they would do, in order.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { configFiles } from '../src/server/config.js'
import type { Step } from '../src/server/step.js'
import {
  abandonStep,
  drainStep,
  rollbackStep,
  startStep,
  switchStep
} from '../src/server/switch.js'
import type { Settings } from '../src/settings.js'
import { settingsFor } from './settings-fixture.js'

const RELEASE = '20261125T081500Z-1a2b3c4'
const PREVIOUS = '20261124T081500Z-0a1b2c3'

/** The commands a step runs, with `changed` as the install step left it (null: no list). */
function calls(step: (s: Settings) => Step, changed: string | null, nginxActive = true): string[] {
  const deployPath = mkdtempSync(join(tmpdir(), 'dda-switch-'))
  mkdirSync(join(deployPath, '.deploy', 'served'), { recursive: true })
  // The live files as the gate saved them (a rollback puts them back).
  mkdirSync(join(deployPath, '.deploy', 'previous'))
  for (const name of ['gunicorn-mysite@.socket', 'gunicorn-mysite@.service', 'mysite'])
    writeFileSync(join(deployPath, '.deploy', 'previous', name), '')
  if (changed !== null) writeFileSync(join(deployPath, '.deploy', 'changed'), changed)
  const record = join(deployPath, 'calls')
  const text = step(settingsFor({ deployPath, drainTimeoutS: 1 })).command.text
  // A step done whole runs its body in a shell of its own, where the stand-ins would not be:
  // the body, in this shell.
  const detached = /<<'DDA_DETACHED'[^\n]*\n([\s\S]*)\nDDA_DETACHED\n/.exec(text)
  const command = detached ? `set -eu\n${detached[1]}` : text
  const stub = (name: string) => `${name}() { echo "${name} $*" >> ${record}; }`
  // dash: what Debian's /bin/sh is, and what runs the steps on a server.
  execFileSync('dash', [
    '-c',
    [
      `systemctl() { echo "systemctl $*" >> ${record}; case "$*" in 'is-active --quiet nginx') return ${nginxActive ? 0 : 3};; esac; }`,
      ...['ln', 'mv', 'rm', 'tee', 'mkdir', 'chmod', 'cp', 'sleep', 'date', 'sh'].map(stub),
      'seq() { echo 1; }',
      `ss() { echo "ss $*" >> ${record}; echo "u_str LISTEN 0 128 /run/x.sock 1 * 0"; }`,
      command
    ].join('\n')
  ])
  const lines = readFileSync(record, 'utf8').trim().split('\n')
  rmSync(deployPath, { recursive: true, force: true })
  // Paths under the temporary deploy path, as the deploy path.
  return lines.map((line) => line.replaceAll(deployPath, '<dp>'))
}

const files = (s: Settings) =>
  configFiles(
    s,
    { cpus: 1, live: '', releases: [], failed: [], served: [], python: '', instance: '' },
    {}
  )

describe('start: the new release in the idle instance', () => {
  test('the tested units as its own runtime units, its link to the release, then its socket and service start', () => {
    const started = calls(
      (s) => startStep(s, RELEASE, 'green', files(s)),
      'gunicorn-mysite@.service\n'
    )
    expect(started).toEqual([
      'systemctl stop gunicorn-mysite@green.service gunicorn-mysite@green.socket',
      // Its restart counter from 0: the instance's check reads a restart as a failed boot.
      'systemctl reset-failed gunicorn-mysite@green.service',
      'mkdir -p /run/systemd/system',
      'cp <dp>/.deploy/staged/gunicorn-mysite@.socket /run/systemd/system/gunicorn-mysite@green.socket',
      'cp <dp>/.deploy/staged/gunicorn-mysite@.service /run/systemd/system/gunicorn-mysite@green.service',
      'systemctl daemon-reload',
      'mkdir -p <dp>/instances',
      'chmod 755 <dp>/instances',
      `ln -sfn ../releases/${RELEASE} <dp>/instances/.green.new`,
      'mv -T <dp>/instances/.green.new <dp>/instances/green',
      'date +%s',
      'systemctl start gunicorn-mysite@green.socket',
      'systemctl start gunicorn-mysite@green.service'
    ])
  })

  test('units the gate found unchanged: it runs from the template, and systemd reads nothing again', () => {
    const started = calls((s) => startStep(s, RELEASE, 'green', files(s)), 'mysite\n')
    expect(started.filter((c) => /daemon-reload|\/run\/systemd/.test(c))).toEqual([])
    expect(started.at(-1)).toBe('systemctl start gunicorn-mysite@green.service')
  })
})

describe('switch: traffic moves by one rename, without an nginx reload', () => {
  test('the new instance enabled, the tested files, the boot link, current, traffic; then the old one disabled', () => {
    const switched = (changed: string) =>
      calls((s) => switchStep(s, RELEASE, 'green', 'blue', files(s)), changed)
    expect(switched('gunicorn-mysite@.socket\n')).toEqual([
      'mkdir -p <dp>/.deploy/served',
      'mkdir -p /etc/systemd/system/sockets.target.wants /etc/systemd/system/multi-user.target.wants',
      'ln -sfn /etc/systemd/system/gunicorn-mysite@.socket /etc/systemd/system/sockets.target.wants/gunicorn-mysite@green.socket',
      'ln -sfn /etc/systemd/system/gunicorn-mysite@.service /etc/systemd/system/multi-user.target.wants/gunicorn-mysite@green.service',
      'cp -p <dp>/.deploy/staged/gunicorn-mysite@.socket /etc/systemd/system/gunicorn-mysite@.socket.new',
      'mv -f /etc/systemd/system/gunicorn-mysite@.socket.new /etc/systemd/system/gunicorn-mysite@.socket',
      'cp -p <dp>/.deploy/staged/gunicorn-mysite@.service /etc/systemd/system/gunicorn-mysite@.service.new',
      'mv -f /etc/systemd/system/gunicorn-mysite@.service.new /etc/systemd/system/gunicorn-mysite@.service',
      'cp -p <dp>/.deploy/staged/mysite /etc/nginx/sites-available/mysite.new',
      'mv -f /etc/nginx/sites-available/mysite.new /etc/nginx/sites-available/mysite',
      'ln -sfn /etc/nginx/sites-available/mysite /etc/nginx/sites-enabled/mysite',
      'tee /etc/tmpfiles.d/gunicorn-mysite.conf.new',
      'mv -f /etc/tmpfiles.d/gunicorn-mysite.conf.new /etc/tmpfiles.d/gunicorn-mysite.conf',
      `ln -sfn releases/${RELEASE} <dp>/.current.new`,
      'mv -T <dp>/.current.new <dp>/current',
      'ln -sfn /run/gunicorn-mysite@green.sock /run/.gunicorn-mysite.sock.new',
      'mv -T /run/.gunicorn-mysite.sock.new /run/gunicorn-mysite.sock',
      'rm -f /etc/systemd/system/sockets.target.wants/gunicorn-mysite@blue.socket /etc/systemd/system/multi-user.target.wants/gunicorn-mysite@blue.service',
      'rm -f /run/systemd/system/gunicorn-mysite@green.socket /run/systemd/system/gunicorn-mysite@green.service',
      'systemctl daemon-reload',
      'systemctl is-active --quiet nginx'
    ])
    // Units unchanged: no runtime units to remove (start made none), no daemon-reload.
    expect(switched('\n').filter((c) => /daemon-reload|\/run\/systemd/.test(c))).toEqual([])
  })

  // A reboot reads the enabled instances, the tmpfiles line, `current`, the units and the site.
  // Cut at any line, the instance the tmpfiles line names at boot is enabled, and the old one is
  // disabled only once the boot's link and `current` name the new one; every write a boot reads
  // is a file, written before the script asks systemd anything (a shutdown under way refuses).
  test.each([
    ['switch', (s: Settings) => switchStep(s, RELEASE, 'green', 'blue', files(s)), 'green', 'blue'],
    [
      'rollback',
      (s: Settings) => rollbackStep(s, PREVIOUS, 'green', 'blue', files(s)),
      'blue',
      'green'
    ]
  ])('%s: cut at any line, the boot link names an enabled instance', (_, step, to, from) => {
    const done = calls(step, 'mysite\n')
    const at = (pattern: RegExp) => {
      const i = done.findIndex((c) => pattern.test(c))
      if (i < 0) throw new Error(`${pattern} not in:\n${done.join('\n')}`)
      return i
    }
    const enabled = at(new RegExp(`^ln -sfn \\S+ \\S+\\.wants/gunicorn-mysite@${to}\\.socket$`))
    const disabled = at(new RegExp(`^rm -f \\S+\\.wants/gunicorn-mysite@${from}\\.socket`))
    const bootLink = at(/^mv -f \/etc\/tmpfiles\.d\//)
    const current = at(/^mv -T <dp>\/\.current\.new/)
    const written = done.flatMap((c, i) => (/^mv -f \/etc\//.test(c) ? [i] : []))
    expect(enabled).toBeLessThan(Math.min(bootLink, current, ...written))
    expect(disabled).toBeGreaterThan(Math.max(bootLink, current, ...written))
    // Every write a boot reads before the first request to systemd (a shutdown refuses it).
    const firstRequest = done.findIndex((c) => c.startsWith('systemctl'))
    expect(firstRequest).toBeGreaterThan(Math.max(enabled, disabled, bootLink, current, ...written))
  })

  test('a first deploy enables its instance, and disables none', () => {
    const first = calls((s) => switchStep(s, RELEASE, 'blue', '', files(s)), '\n')
    expect(first).toContain(
      'ln -sfn /etc/systemd/system/gunicorn-mysite@.socket /etc/systemd/system/sockets.target.wants/gunicorn-mysite@blue.socket'
    )
    expect(first.some((c) => c.includes('.wants/gunicorn-mysite@green'))).toBe(false)
  })

  test('a changed site reloads nginx; nginx not running is started', () => {
    expect(calls((s) => switchStep(s, RELEASE, 'green', 'blue', files(s)), 'mysite\n')).toContain(
      'systemctl reload nginx'
    )
    expect(calls((s) => switchStep(s, RELEASE, 'blue', '', files(s)), '\n', false)).toContain(
      'systemctl start nginx'
    )
  })
})

describe('drain: the old instance stops once its connections are done', () => {
  test('an instance: its socket watched, then stopped and disabled', () => {
    const drained = calls((s) => drainStep(s, 'blue'), '\n')
    expect(drained[0]).toBe('ss -xaH src /run/gunicorn-mysite@blue.sock')
    expect(drained.at(-1)).toBe(
      // Told to stop, not waited for: no request needs the deploy to wait for gunicorn's exit.
      'systemctl stop --no-block gunicorn-mysite@blue.service gunicorn-mysite@blue.socket'
    )
  })

  test('the earlier single instance: its units go, and the link to its socket', () => {
    const drained = calls((s) => drainStep(s, 'legacy'), '\n')
    expect(drained[0]).toBe('ss -xaH src /run/gunicorn-mysite.sock')
    expect(drained.slice(-3)).toEqual([
      'systemctl disable --quiet --now gunicorn-mysite.service gunicorn-mysite.socket',
      'rm -f /etc/systemd/system/gunicorn-mysite.socket /etc/systemd/system/gunicorn-mysite.service /run/gunicorn-mysite@legacy.sock',
      'systemctl daemon-reload'
    ])
  })
})

describe('the way back', () => {
  test('rollback: traffic back to the old instance first, then the new one stops', () => {
    const back = calls((s) => rollbackStep(s, PREVIOUS, 'green', 'blue', files(s)), '\n')
    expect(back.slice(0, 2)).toEqual([
      'ln -sfn /run/gunicorn-mysite@blue.sock /run/.gunicorn-mysite.sock.new',
      'mv -T /run/.gunicorn-mysite.sock.new /run/gunicorn-mysite.sock'
    ])
    expect(back).toContain(
      'rm -f /etc/systemd/system/sockets.target.wants/gunicorn-mysite@green.socket /etc/systemd/system/multi-user.target.wants/gunicorn-mysite@green.service'
    )
    expect(back).toContain(
      'systemctl stop gunicorn-mysite@green.service gunicorn-mysite@green.socket'
    )
    expect(back).not.toContain('systemctl reload nginx')
    expect(back.findIndex((c) => c.includes('stop gunicorn-mysite@green'))).toBeGreaterThan(1)
  })

  test('abandon: the new instance stops; traffic was never moved', () => {
    const abandoned = calls((s) => abandonStep(s, 'green'), '\n')
    expect(abandoned[0]).toBe(
      'systemctl stop gunicorn-mysite@green.service gunicorn-mysite@green.socket'
    )
    expect(abandoned.some((c) => c.includes('/run/gunicorn-mysite.sock'))).toBe(false)
  })
})

// remove on a real host with two projects: `gone` (a process, a schedule, a writable folder, and
// links its app user planted to root's files outside) is taken off while `keep` answers through
// nginx throughout. A dry run lists and changes nothing; a remove leaves only gone's data
// (shared/, backups/); a remove with force leaves nothing at all, and the links' targets are as
// they were. One host for the file.
import { type ActionRun, runAction } from './action.js'
import { deployInputs, get, onHost, workspaceWith } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost
let workspace: string

beforeAll(async () => {
  host = await bootHost('remove')
  workspace = workspaceWith('v1').workspace
})
afterAll(async () => {
  await host?.stop()
})

const must = (cmd: string) => onHost(host, cmd)

const inputs = (project: string, overrides: Record<string, string> = {}) =>
  deployInputs(host, {
    'project-name': project,
    'settings-module': 'mysite.settings',
    'wsgi-module': 'mysite.wsgi:application',
    'server-name': `${project}.test`,
    ...overrides
  })

const GONE = {
  processes: 'server: python -m http.server -b 127.0.0.1 18765',
  schedules: 'tick: { on: hourly, run: python manage.py check }',
  'writable-paths': '/srv/gone/uploads'
}

function succeeded(run: ActionRun): void {
  if (run.outputs.status !== 'success')
    throw new Error(`the run did not succeed (${run.outputs.status}):\n${run.stdout}`)
  expect(run.code).toBe(0)
}

/** `keep` through nginx, over and over while `during` runs: every status it answered. */
async function keepServes<T>(during: Promise<T>): Promise<{ result: T; statuses: number[] }> {
  const statuses: number[] = []
  let done = false
  const loop = (async () => {
    while (!done) {
      statuses.push(
        await get(host, '/healthz', { Host: 'keep.test' }).then(
          (p) => p.status,
          () => 0
        )
      )
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  const result = await during.finally(() => (done = true))
  await loop
  return { result, statuses }
}

/** What there is of `gone` on the host outside its deploy path. */
const goneOutside = () =>
  must(
    "systemctl list-unit-files --no-legend --all | awk '{print $1}' | grep -E '^(gunicorn-gone|gone-|certbot-renew-gone)' || true; " +
      'ls -d /etc/nginx/sites-*/gone /etc/tmpfiles.d/gunicorn-gone.conf /run/gunicorn-gone* /etc/systemd/system/gone-* 2>/dev/null || true'
  )

/** Root's files the app's links lead to: content, owner and mode. */
const targets = () =>
  must(
    'stat -c "%n %U %a %s" /root/remove-target /etc /etc/hostname /etc/debian_version && sha256sum /root/remove-target /etc/hostname /etc/debian_version'
  )

describe('remove, one of two projects on one host', () => {
  let before = ''

  test('both deploy; gone has a process, a schedule, and links its app user planted', async () => {
    succeeded(await runAction(inputs('keep'), { workspace }))
    succeeded(await runAction(inputs('gone', GONE), { workspace }))
    expect((await get(host, '/healthz', { Host: 'gone.test' })).status).toBe(200)
    expect(await must('systemctl is-active gone-server.service gone-tick.timer')).toBe(
      'active\nactive\n'
    )
    await must('printf root-only > /root/remove-target && chmod 600 /root/remove-target')
    await must('runuser -u gone -- ln -s /root/remove-target /srv/gone/shared/root-link')
    await must('runuser -u gone -- ln -s /etc /srv/gone/uploads/etc-link')
    before = await targets()
  })

  test('a dry run lists what would go, file by file, and changes nothing', async () => {
    const state = () =>
      must('find -P /srv/gone -printf "%p %U %m %l\\n" | sort; ls /etc/nginx/sites-enabled')
    const was = await state()
    const units = await goneOutside()
    const dry = (force: string) =>
      runAction(inputs('gone', { remove: 'true', 'dry-run': 'true', force }), { workspace })
    const run = await dry('false')
    succeeded(run)
    expect(run.stdout).toContain('would remove: unit gunicorn-gone@.service')
    expect(run.stdout).toContain('would remove: unit gone-server.service')
    expect(run.stdout).toContain('would remove: /etc/nginx/sites-available/gone')
    expect(run.stdout).toMatch(/would remove: \/srv\/gone\/releases\/\S+\/manage\.py/)
    // The data stays: shared/, and the folder writable-paths handed to the app.
    expect(run.stdout).not.toContain('would remove: /srv/gone/shared')
    expect(run.stdout).not.toContain('would remove: /srv/gone/uploads')
    expect(run.summary).toContain('Would remove')
    // With force the data goes too; a link is listed as itself, never walked into.
    const forced = await dry('true')
    succeeded(forced)
    expect(forced.stdout).toContain('would remove: /srv/gone/uploads/etc-link')
    expect(forced.stdout).not.toContain('/srv/gone/uploads/etc-link/')
    expect(forced.stdout).toContain('would remove: /srv/gone/shared/root-link')
    expect(await state()).toBe(was)
    expect(await goneOutside()).toBe(units)
    expect((await get(host, '/healthz', { Host: 'gone.test' })).status).toBe(200)
  })

  test('remove: nothing of gone but its data; keep answers 200 throughout', async () => {
    const { result: run, statuses } = await keepServes(
      runAction(inputs('gone', { remove: 'true' }), { workspace })
    )
    succeeded(run)
    expect(statuses.length).toBeGreaterThan(5)
    expect(statuses.filter((s) => s !== 200)).toEqual([])
    expect(await goneOutside()).toBe('')
    const left = (await must('ls -A /srv/gone')).trim().split('\n')
    expect(left).toContain('shared')
    expect(left).toContain('uploads')
    expect(left.filter((e) => !['shared', 'backups', 'uploads'].includes(e))).toEqual([])
    expect(await must('readlink /srv/gone/shared/root-link')).toBe('/root/remove-target\n')
    expect(await must('id -u gone >/dev/null && echo kept')).toBe('kept\n')
    expect(await targets()).toBe(before)
    expect(run.summary).toMatch(/Kept: .*`\/srv\/gone\/shared\/`/)
    expect(run.summary).toMatch(/Kept: .*`\/srv\/gone\/uploads\/`/)
    expect(await must('journalctl -t django-deploy-gone --no-pager -o cat')).toContain(
      'argument="remove" result="success"'
    )
    expect((await get(host, '/healthz', { Host: 'keep.test' })).status).toBe(200)
  })

  test('remove with force: nothing of gone at all; the links went, their targets did not', async () => {
    const { result: run, statuses } = await keepServes(
      runAction(inputs('gone', { remove: 'true', force: 'true' }), { workspace })
    )
    succeeded(run)
    expect(statuses.filter((s) => s !== 200)).toEqual([])
    expect((await host.exec('test -e /srv/gone')).code).not.toBe(0)
    expect((await host.exec('id -u gone')).code).not.toBe(0)
    expect(await goneOutside()).toBe('')
    expect(await targets()).toBe(before)
    expect(await must('journalctl -t django-deploy-gone --no-pager -o cat')).toContain(
      'argument="remove --force" result="success"'
    )
    // Once more: nothing there, said so.
    const again = await runAction(inputs('gone', { remove: 'true', force: 'true' }), { workspace })
    succeeded(again)
    expect(again.summary).toContain(`nothing of gone on ${host.address}`)
    expect((await host.exec('test -e /srv/gone')).code).not.toBe(0)
  })
})

// maintenance: the inputs (the switch, the page from the workspace, the allowed addresses as nginx
// writes them), the switch's steps (the page and addresses before the flag, no reload), and one
// host's switch (its state before and after, a dry run, a host that cannot switch).

import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { maintenance } from '../src/flow/maintenance.js'
import type { OperationDeps } from '../src/flow/operation-outcome.js'
import { renderSite } from '../src/render/nginx.js'
import { maintenanceOutput } from '../src/report/report.js'
import {
  DEFAULT_MAINTENANCE_PAGE,
  maintenanceOffStep,
  maintenanceOnStep
} from '../src/server/maintenance.js'
import type { Step } from '../src/server/step.js'
import type { OperationOf, Settings } from '../src/settings.js'
import { hostFacts, readInputs, refusalOf, settingsFor } from './settings-fixture.js'

const workspace = mkdtempSync(join(tmpdir(), 'dda-maintenance-'))
writeFileSync(join(workspace, 'manage.py'), '')
mkdirSync(join(workspace, '.github'))
writeFileSync(join(workspace, '.github', 'down.html'), '<h1>Back at five</h1>')
writeFileSync(join(workspace, 'big.html'), 'x'.repeat(64 * 1024 + 1))
writeFileSync(join(tmpdir(), 'dda-outside.html'), 'outside')
symlinkSync(join(tmpdir(), 'dda-outside.html'), join(workspace, 'outside.html'))
// Links inside the workspace: to the job's token actions/checkout saves, and a folder's link.
mkdirSync(join(workspace, '.git'))
writeFileSync(join(workspace, '.git', 'config'), 'extraheader = AUTHORIZATION: basic c2VjcmV0')
symlinkSync('.git/config', join(workspace, 'token.html'))
symlinkSync('.github', join(workspace, 'pages'))

const read = (overrides: Record<string, string>): Settings => readInputs(overrides, workspace)

const refusal = (overrides: Record<string, string>) => refusalOf(() => read(overrides), overrides)

describe('the maintenance inputs', () => {
  test('on and off are the switch; the page is read from the workspace; the built-in one else', () => {
    expect(read({ maintenance: 'on' }).operation).toEqual({ kind: 'maintenance', on: true })
    expect(read({ maintenance: 'OFF' }).operation).toEqual({ kind: 'maintenance', on: false })
    expect(read({}).maintenancePage).toBeUndefined()
    const s = read({ maintenance: 'on', 'maintenance-page': '.github/down.html' })
    expect(s.maintenancePage).toBe('<h1>Back at five</h1>')
    expect(read({}).maintenanceDuringMigrations).toBe(false)
    expect(read({ 'maintenance-during-migrations': 'true' }).maintenanceDuringMigrations).toBe(true)
  })

  test.each([
    [{ maintenance: 'yes' }, 'maintenance', /'yes' is not one of on .* or off/],
    [{ maintenance: 'on', manage: 'check' }, 'manage', /maintenance is another/],
    [{ maintenance: 'on', rollback: 'true', source: 'none' }, 'maintenance', /rollback/],
    [{ 'maintenance-page': 'missing.html' }, 'maintenance-page', /not in the workspace/],
    [{ 'maintenance-page': '../etc/passwd' }, 'maintenance-page', /inside the workspace/],
    [{ 'maintenance-page': '/etc/passwd' }, 'maintenance-page', /inside the workspace/],
    [{ 'maintenance-page': 'big.html' }, 'maintenance-page', /at most 64 KiB/],
    [{ 'maintenance-page': 'outside.html' }, 'maintenance-page', /may not be read/],
    [{ 'maintenance-page': 'token.html' }, 'maintenance-page', /may not be read/],
    [{ 'maintenance-page': 'pages/down.html' }, 'maintenance-page', /may not be read/],
    [{ 'maintenance-allow': '10.0.0.0/8' }, 'maintenance-allow', /is a network; allowed: single/],
    [{ 'maintenance-allow': 'office.example.com' }, 'maintenance-allow', /not an IP address/],
    [{ 'maintenance-allow': '::ffff:10.0.0.1' }, 'maintenance-allow', /not an IP address/],
    [{ 'maintenance-allow': '1.2.3.4; rm -rf /' }, 'maintenance-allow', /not an IP address/]
  ])('%j is refused, naming %s', (overrides, input, said) => {
    const error = refusal(overrides as Record<string, string>)
    expect(error.input).toBe(input)
    expect(error.message).toMatch(said)
  })

  test('addresses are written as nginx writes $remote_addr, once each', () => {
    const s = read({
      'maintenance-allow': '203.0.113.7, 2001:DB8:0:0:0:0:0:7\n[2001:db8::7] 203.0.113.7'
    })
    expect(s.maintenanceAllow).toEqual(['203.0.113.7', '2001:db8::7'])
  })
})

/** The page the on step writes, decoded from its command. */
function pageOf(step: Step): string {
  const encoded = /printf %s '?([A-Za-z0-9+/=]+)'? \| base64 -d/.exec(step.command.text)?.[1]
  return Buffer.from(encoded ?? '', 'base64').toString()
}

describe('the site', () => {
  test('the ACME challenges pass maintenance where the block answers them, and only there', () => {
    const exempt = 'if ($uri ~ ^/\\.well-known/acme-challenge/)'
    const plain = renderSite(settingsFor(), {}, { challengeRoot: '/srv/mysite/acme' })
    expect(plain).toContain(exempt)
    expect(renderSite(settingsFor())).not.toContain(exempt)
  })
})

describe('the switch steps', () => {
  test('on: the site checked, the page and the addresses written before the flag; no reload', () => {
    const s = settingsFor({
      maintenancePage: "<h1>it's $HOME `x`</h1>",
      maintenanceAllow: ['203.0.113.7']
    })
    const step = maintenanceOnStep(s)
    const text = step.command.text
    expect(step.privileged).toBe(true)
    expect(pageOf(step)).toBe("<h1>it's $HOME `x`</h1>")
    const order = [
      "grep -qF '# Maintenance: on while' /etc/nginx/sites-available/mysite",
      'mv -f /srv/mysite/maintenance/.page.new /srv/mysite/maintenance/page.html',
      ': > /srv/mysite/maintenance/allow/203.0.113.7',
      'mv -f /srv/mysite/maintenance/.on.new /srv/mysite/maintenance/on'
    ].map((line) => text.indexOf(line))
    expect(order.every((at) => at >= 0)).toBe(true)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(text).not.toMatch(/nginx -s|reload/)
    expect(pageOf(maintenanceOnStep(settingsFor()))).toBe(DEFAULT_MAINTENANCE_PAGE)
  })

  test('off: the flag goes, nothing else', () => {
    const text = maintenanceOffStep(settingsFor()).command.text
    expect(text).toContain('rm -f /srv/mysite/maintenance/on')
    expect(text).not.toMatch(/reload|page\.html/)
  })
})

describe('the on step, run on a folder tree', () => {
  /** A deploy path and a site file of its own; the step's site path pointed at it. */
  function tree() {
    const root = mkdtempSync(join(tmpdir(), 'dda-maint-run-'))
    const deployPath = join(root, 'srv', 'mysite')
    mkdirSync(deployPath, { recursive: true })
    const site = join(root, 'site')
    writeFileSync(site, `# Maintenance: on while ${deployPath}/maintenance/on exists\n`)
    const victim = join(root, 'victim')
    mkdirSync(victim)
    writeFileSync(join(victim, 'file'), 'precious')
    const s = settingsFor({
      deployPath,
      maintenanceAllow: ['203.0.113.7'],
      maintenancePage: 'page'
    })
    const run = () =>
      spawnSync(
        'sh',
        [
          '-c',
          maintenanceOnStep(s).command.text.replaceAll('/etc/nginx/sites-available/mysite', site)
        ],
        { encoding: 'utf8' }
      )
    return { deployPath, victim, run, m: join(deployPath, 'maintenance') }
  }
  const untouched = (victim: string) => {
    expect(readdirSync(victim)).toEqual(['file'])
    expect(readFileSync(join(victim, 'file'), 'utf8')).toBe('precious')
  }

  test('writes the page, the address and the flag', () => {
    const { run, m } = tree()
    expect(run().status).toBe(0)
    expect(readFileSync(join(m, 'page.html'), 'utf8')).toBe('page')
    expect(readdirSync(join(m, 'allow'))).toEqual(['203.0.113.7'])
    expect(existsSync(join(m, 'on'))).toBe(true)
    expect((statSync(m).mode & 0o777).toString(8)).toBe('755')
  })

  test.each([
    ['the folder a link', (m: string, victim: string) => symlinkSync(victim, m)],
    [
      'allow/ a link',
      (m: string, victim: string) => (mkdirSync(m), symlinkSync(victim, join(m, 'allow')))
    ],
    ['the folder writable by others', (m: string) => (mkdirSync(m), chmodSync(m, 0o777))]
  ])('%s: refused, naming it; nothing outside changes', (_, plant) => {
    const { run, m, victim } = tree()
    plant(m, victim)
    const result = run()
    expect(result.status).toBe(3)
    expect(result.stderr).toMatch(/is not root's own folder/)
    untouched(victim)
  })

  test('a link left at a name root writes is replaced, never written through', () => {
    const { run, m, victim } = tree()
    mkdirSync(m, { mode: 0o755 })
    chmodSync(m, 0o755)
    for (const name of ['on', 'page.html', '.page.new', '.on.new'])
      symlinkSync(join(victim, 'file'), join(m, name))
    expect(run().status).toBe(0)
    untouched(victim)
    expect(lstatSync(join(m, 'on')).isSymbolicLink()).toBe(false)
    expect(readFileSync(join(m, 'page.html'), 'utf8')).toBe('page')
  })
})

describe('a host switched', () => {
  const on: OperationOf<'maintenance'> = { kind: 'maintenance', on: true }

  function deps(s: Settings, answer: { code: number; stdout: string; stderr: string }) {
    const ran: string[] = []
    const said: string[] = []
    const d = {
      settings: s,
      host: 'app1',
      run: async (step: Step) => {
        ran.push(step.id)
        return { ...answer, durationMs: 1 }
      },
      info: (message: string) => said.push(message)
    } as unknown as OperationDeps
    return { d, ran, said }
  }

  test("on: the state after is the report's, and the message says how to leave it", async () => {
    const { d, ran } = deps(settingsFor({ operation: on }), {
      code: 0,
      stdout: 'maintenance=on\n',
      stderr: ''
    })
    const outcome = await maintenance(d, on, hostFacts({ live: 'r1' }), {
      command: 'maintenance on'
    })
    expect(ran).toEqual(['maintenance-on'])
    expect(outcome.status).toBe('success')
    expect(outcome.maintenance).toBe('on')
    expect(outcome.message).toContain('run with maintenance: off')
  })

  test('a dry run changes nothing and says the state it found', async () => {
    const s = settingsFor({ operation: on, dryRun: true })
    const { d, ran, said } = deps(s, { code: 0, stdout: '', stderr: '' })
    const outcome = await maintenance(d, on, hostFacts({ live: 'r1' }), {
      command: 'maintenance on'
    })
    expect(ran).toEqual([])
    expect(said[0]).toMatch(/^would run: Maintenance on/)
    expect(outcome.maintenance).toBe('off')
    expect(outcome.message).toBe(
      'dry run: maintenance is off on app1; would turn it on; nothing was changed'
    )
  })

  test('a host that cannot switch fails with its words first, and the state it stays in', async () => {
    const said =
      '/etc/nginx/sites-available/mysite was written by an earlier version, without the maintenance switch: deploy once with this version, then switch'
    const { d } = deps(settingsFor({ operation: on }), { code: 3, stdout: '', stderr: `${said}\n` })
    const outcome = await maintenance(d, on, hostFacts({ live: 'r1', maintenance: false }), {
      command: 'maintenance on'
    })
    expect(outcome.status).toBe('failure')
    expect(outcome.message.split('\n')).toEqual([
      said,
      'Nothing was switched on app1: maintenance is still off.'
    ])
    expect(outcome.maintenance).toBe('off')
  })

  test("the output: every host's state, mixed when they differ, empty when none was reached", () => {
    const r = (maintenance?: 'on' | 'off') => ({ maintenance }) as never
    expect(maintenanceOutput([r('on'), r('on')])).toBe('on')
    expect(maintenanceOutput([r('on'), r('off')])).toBe('mixed')
    expect(maintenanceOutput([r(undefined)])).toBe('')
  })
})

// Fleets: several hosts in one step, each in a network namespace of its own, rolled out in
// batches with a health gate; the first failure stops the rollout.
import { runAction } from './action.js'
import { deployInputs, health, workspaceWith } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let hosts: TestHost[] = []

beforeAll(async () => {
  hosts = await Promise.all(['fleet-1', 'fleet-2', 'fleet-3'].map((name) => bootHost(name)))
})
afterAll(async () => {
  await Promise.all(hosts.map((host) => host.stop()))
})

/** The `hosts` output as [host, status, release] rows. */
function hostStates(output: string): string[][] {
  const hosts = JSON.parse(output) as Array<{ host: string; status: string; release: string }>
  return hosts.map((h) => [h.host, h.status, h.release])
}

function fleetInputs(overrides: Record<string, string> = {}) {
  return deployInputs(hosts[0], {
    host: hosts.map((h) => h.address).join('\n'),
    'known-hosts': hosts.map((h) => h.knownHosts).join('\n'),
    ...overrides
  })
}

test('three healthy hosts, two at a time: all serve the new release, migrations first on the first host', async () => {
  const { workspace } = workspaceWith('v1')
  const run = await runAction(fleetInputs({ 'max-parallel': '2' }), { workspace })
  expect(run.code).toBe(0)
  for (const host of hosts)
    expect(await health(host)).toMatchObject({ version: 'v1', release: run.outputs.release })

  // The first host's migrations ended before any other host's began.
  const lines = run.stdout.split('\n')
  const firstDone = lines.findIndex((l) => l.startsWith(`[${hosts[0].address}] (django: exit 0`))
  for (const other of hosts.slice(1)) {
    const began = lines.findIndex((l) => l.startsWith(`[${other.address}] ▶ manage.py migrate`))
    expect(firstDone).toBeGreaterThan(-1)
    expect(began).toBeGreaterThan(firstDone)
  }
  // The second host started with the first (same batch) and waited for its migrations.
  expect(run.stdout).toContain(
    `[${hosts[1].address}] Waiting for the first host to finish its migrations`
  )

  expect(hostStates(run.outputs.hosts)).toEqual(
    hosts.map((h) => [h.address, 'success', run.outputs.release])
  )
})

test('the second host cannot start the new release: the rollout stops there and says so', async () => {
  const v1 = (await health(hosts[0])).release
  // A drop-in on the second host only that refuses to start release v2.
  await hosts[1].exec(
    // (both instances: the template's drop-in; the release is the instance's working directory)
    'mkdir -p /etc/systemd/system/gunicorn-mysite@.service.d && printf \'[Service]\\nExecStartPre=/bin/sh -c "! grep -qx v2 VERSION"\\n\' > /etc/systemd/system/gunicorn-mysite@.service.d/refuse-v2.conf && systemctl daemon-reload'
  )
  const { workspace } = workspaceWith('v2')
  const run = await runAction(fleetInputs({ 'health-timeout': '8' }), { workspace })
  expect(run.code).toBe(1)
  expect(run.outputs.status).toBe('rolled-back')

  // First host: the new release. Second: rolled back to v1. Third: untouched, still v1.
  expect(await health(hosts[0])).toMatchObject({ version: 'v2', release: run.outputs.release })
  expect(await health(hosts[1])).toMatchObject({ version: 'v1', release: v1 })
  expect(await health(hosts[2])).toMatchObject({ version: 'v1', release: v1 })
  expect((await hosts[2].exec('ls /srv/mysite/releases')).stdout.trim()).toBe(v1)

  expect(hostStates(run.outputs.hosts)).toEqual([
    [hosts[0].address, 'success', run.outputs.release],
    [hosts[1].address, 'rolled-back', v1],
    [hosts[2].address, 'skipped', '']
  ])
  expect(run.summary).toMatch(
    new RegExp(`\\| ${hosts[0].address.replace(/\./g, '\\.')} .*✅ success \\|`)
  )
  expect(run.summary).toMatch(
    new RegExp(`\\| ${hosts[1].address.replace(/\./g, '\\.')} .*↩️ rolled-back \\|`)
  )
  expect(run.summary).toMatch(
    new RegExp(`\\| ${hosts[2].address.replace(/\./g, '\\.')} .*⏭️ skipped \\|`)
  )
  expect(run.summary).toContain('not deployed: an earlier host failed')
})

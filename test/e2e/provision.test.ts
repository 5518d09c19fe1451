// provision and apt-packages on fresh servers: a Debian 12 host (as root) and a Debian 13 host
// (as the sudo user deploy) made minimal (nginx, the venv, Django, gunicorn and iproute2 purged),
// then one run serves the site; the next installs nothing and costs what a run without provision
// costs; a package Debian does not have fails before anything is uploaded. The hosts reach no
// mirror: their image carries the packages as a local archive (testhost.sh).
import { runAction, type ActionRun } from './action.js'
import { deployInputs, health, workspaceWith } from './fixture.js'
import { bootHost, type Suite, type TestHost } from './testhost.js'

const CASES: Array<{ suite: Suite; user: 'root' | 'deploy' }> = [
  { suite: 'bookworm', user: 'root' },
  { suite: 'trixie', user: 'deploy' }
]
const PROVISION = { provision: 'true', 'apt-packages': 'python3-django python3-gunicorn gettext' }
const CHECKED = 'nginx python3-venv iproute2 python3-django python3-gunicorn gettext'

const hosts = new Map<Suite, TestHost>()

/** Leaves the host with what a new server has: no nginx, venv, Django, gunicorn or iproute2. */
async function makeMinimal(host: TestHost): Promise<void> {
  const purged = await host.exec(
    'venv=$(python3 -c \'import sys; print("python3.%d-venv" % sys.version_info[1])\') && ' +
      'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q --auto-remove nginx nginx-common ' +
      'python3-venv "$venv" python3-django python3-gunicorn iproute2 gettext && ' +
      '! command -v nginx && ! command -v ss'
  )
  if (purged.code !== 0) throw new Error(`could not make the host minimal: ${purged.stderr}`)
}

beforeAll(async () => {
  const settled = await Promise.allSettled(
    CASES.map(async ({ suite }) => {
      const host = await bootHost(`prov-${suite}`, { suite })
      hosts.set(suite, host)
      await makeMinimal(host)
    })
  )
  const failed = settled.find((s) => s.status === 'rejected')
  if (failed) throw (failed as PromiseRejectedResult).reason
})
afterAll(async () => {
  await Promise.allSettled([...hosts.values()].map((host) => host.stop()))
})

function host(suite: Suite): TestHost {
  const found = hosts.get(suite)
  if (!found) throw new Error(`no ${suite} host`)
  return found
}

/**
 * Holds dpkg's lock as unattended-upgrades would, for `seconds`, in a unit of its own (a command
 * of `exec` would end with it).
 */
async function holdAptLock(h: TestHost, seconds: number): Promise<void> {
  const program = `import fcntl, time; f = open("/var/lib/dpkg/lock-frontend", "w"); fcntl.lockf(f, fcntl.LOCK_EX); time.sleep(${seconds})`
  const held = await h.exec(
    `systemd-run --quiet --collect --unit=apt-lock-holder-$RANDOM python3 -c '${program}' && sleep 1`
  )
  if (held.code !== 0) throw new Error(`could not hold apt's lock: ${held.stderr}`)
}

/** What dpkg says of each package: `ii` when installed. */
async function statuses(h: TestHost, packages: string): Promise<string> {
  const out = await h.exec(`dpkg-query -W -f='\${db:Status-Abbrev}\\n' ${packages} 2>/dev/null`)
  return out.stdout
}

/** The round trips the summary's timing table counts for the one host. */
const roundTrips = (run: ActionRun) =>
  /\| round trips \|[\s\S]*\| (\d+) \|\n/.exec(run.summary)?.[1]

describe.each(CASES)('a fresh Debian host ($suite, as $user)', ({ suite, user }) => {
  const { workspace } = workspaceWith('v1')

  test('a package Debian does not have fails before anything is uploaded', async () => {
    const h = host(suite)
    const inputs = { provision: 'true', 'apt-packages': 'gettext no-such-package-xyz' }
    const run = await runAction(deployInputs(h, inputs, user), { workspace })
    expect(run.code).not.toBe(0)
    expect(run.outputs.status).toBe('failure')
    expect(run.everything).toContain('E: Unable to locate package no-such-package-xyz')
    expect(run.summary).toContain(
      'apt-get could not install the Debian packages nginx python3-venv iproute2 gettext no-such-package-xyz'
    )
    // Nothing uploaded, nothing installed, no policy left to stop services from starting.
    expect((await h.exec('ls -A /srv/mysite/releases 2>/dev/null')).stdout).toBe('')
    expect((await h.exec('command -v nginx')).code).not.toBe(0)
    expect((await h.exec('test -e /usr/sbin/policy-rc.d')).code).not.toBe(0)
  })

  test("apt's lock not let go within lock-wait fails the run with apt's words", async () => {
    const h = host(suite)
    await holdAptLock(h, 20)
    const inputs = { ...PROVISION, 'lock-wait': '2' }
    const run = await runAction(deployInputs(h, inputs, user), { workspace })
    expect(run.code).not.toBe(0)
    const cause = run.summary.split('\n').find((l) => l.startsWith('**E: '))
    expect(cause).toContain('E: Unable to acquire the dpkg frontend lock')
    expect(run.summary).toMatch(
      /Could not get lock \/var\/lib\/dpkg\/lock-frontend\. It is held by process \d+ \(python3\)/
    )
    expect((await h.exec('ls -A /srv/mysite/releases 2>/dev/null')).stdout).toBe('')
    await h.exec('systemctl stop "apt-lock-holder-*"')
  })

  test('a dry run lists the packages the host would get, and installs nothing', async () => {
    const h = host(suite)
    const run = await runAction(deployInputs(h, { ...PROVISION, 'dry-run': 'true' }, user), {
      workspace
    })
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`Debian packages to install first: ${CHECKED}`)
    expect(run.summary).toContain('would install the Debian packages `nginx`, `python3-venv`')
    expect(await statuses(h, 'nginx gettext')).not.toContain('ii')
  })

  let first: ActionRun | undefined
  test('one run with provision and apt-packages goes from nothing to a served site', async () => {
    const h = host(suite)
    // apt's lock held a few seconds, as by unattended-upgrades: waited for.
    await holdAptLock(h, 5)
    first = await runAction(deployInputs(h, PROVISION, user), { workspace })
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.outputs.status).toBe('success')
    expect(await health(h)).toMatchObject({ status: 'ok', version: 'v1' })
    expect(await statuses(h, CHECKED)).toBe('ii \n'.repeat(6))
    expect(first.summary).toContain(
      'installed the Debian packages `nginx`, `python3-venv`, `iproute2`, `python3-django`, `python3-gunicorn`, `gettext`'
    )
    // nginx was started by the deploy, not by its install, and starts at boot.
    expect((await h.exec('systemctl is-active nginx; systemctl is-enabled nginx')).stdout).toBe(
      'active\nenabled\n'
    )
    expect((await h.exec('test -e /usr/sbin/policy-rc.d')).code).not.toBe(0)
  })

  test('the next run installs nothing, and costs what a run without provision costs', async () => {
    const h = host(suite)
    const again = await runAction(deployInputs(h, PROVISION, user), { workspace })
    expect(again.code).toBe(0)
    const said = again.stdout.split('\n').filter((l) => l.includes('Debian packages'))
    expect(said).toEqual(['Debian packages: nothing to install, the host has them all'])
    expect(again.summary).not.toContain('installed the Debian packages')
    const without = await runAction(deployInputs(h, {}, user), { workspace })
    expect(without.code).toBe(0)
    expect(roundTrips(again)).toBeDefined()
    expect(roundTrips(again)).toBe(roundTrips(without))
  })
})

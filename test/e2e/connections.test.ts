// One SSH connection per host per deploy (issue #7): every step, the upload and the lock share
// one connection. Counted on the host itself, from sshd's log lines in the journal: each login is
// one "Accepted publickey", and a connection that never logs in leaves a "[preauth]" line.
import { runAction } from './action.js'
import { deployInputs, edit, health, sshdLinesAfter, workspaceWith } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

/** The journal's position now, to read only what comes after it. */
async function journalCursor(host: TestHost): Promise<string> {
  const result = await host.exec('journalctl -n 1 --show-cursor --no-pager -o cat')
  const cursor = /^-- cursor: (\S+)$/m.exec(result.stdout)?.[1]
  if (!cursor)
    throw new Error(`no journal cursor on ${host.name}: ${result.stdout}${result.stderr}`)
  return cursor
}

/** sshd's connections since the cursor: logins, and connections closed before logging in. */
async function sshConnections(
  host: TestHost,
  cursor: string
): Promise<{ logins: string[]; preauth: string[] }> {
  // sshd writes "Accepted ..." before the command runs, but journald may store it after a short
  // run (a dry run takes under a second) has ended: read until a login is there, then once more
  // a moment later for any other.
  const read = () => sshdLinesAfter(host, cursor)
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
  let lines = await read()
  for (let i = 0; i < 40 && !lines.some((l) => /^Accepted /.test(l)); i++) {
    await sleep(250)
    lines = await read()
  }
  await sleep(500)
  lines = await read()
  return {
    logins: lines.filter((l) => /^Accepted \S+ for /.test(l)),
    preauth: lines.filter((l) => l.includes('[preauth]'))
  }
}

function changedProject(version: string): string {
  const { workspace, project } = workspaceWith(version)
  edit(project, 'notes/views.py', (text) => `${text}\n# ${version}\n`)
  return workspace
}

describe('one SSH connection per host per deploy', () => {
  let hosts: TestHost[] = []

  beforeAll(async () => {
    hosts = await Promise.all(['bench-conn-1', 'bench-conn-2'].map((name) => bootHost(name)))
  })
  afterAll(async () => {
    await Promise.all(hosts.map((host) => host.stop()))
  })

  test('a first deploy and a code change to one host: one login each', async () => {
    const [host] = hosts
    for (const version of ['v1', 'v2']) {
      const cursor = await journalCursor(host)
      const run = await runAction(deployInputs(host), { workspace: changedProject(version) })
      expect(run.code).toBe(0)
      expect(run.outputs.status).toBe('success')
      expect((await health(host)).version).toBe(version)
      const seen = await sshConnections(host, cursor)
      expect(seen.logins).toHaveLength(1)
      expect(seen.logins[0]).toMatch(/^Accepted publickey for root from /)
      expect(seen.preauth).toEqual([])
    }
  })

  test('a dry run: one login', async () => {
    const [host] = hosts
    const cursor = await journalCursor(host)
    const run = await runAction(deployInputs(host, { 'dry-run': 'true' }), {
      workspace: changedProject('v3')
    })
    expect(run.code).toBe(0)
    const seen = await sshConnections(host, cursor)
    expect(seen.logins).toHaveLength(1)
    expect(seen.preauth).toEqual([])
  })

  test('one run deploying two hosts: one login on each', async () => {
    const cursors = await Promise.all(hosts.map((host) => journalCursor(host)))
    const run = await runAction(
      deployInputs(hosts[0], {
        host: hosts.map((h) => h.address).join('\n'),
        'known-hosts': hosts.map((h) => h.knownHosts).join('\n')
      }),
      { workspace: changedProject('v4') }
    )
    expect(run.code).toBe(0)
    expect(run.outputs.status).toBe('success')
    for (const [i, host] of hosts.entries()) {
      expect((await health(host)).version).toBe('v4')
      const seen = await sshConnections(host, cursors[i])
      expect({ host: host.name, logins: seen.logins.length, preauth: seen.preauth }).toEqual({
        host: host.name,
        logins: 1,
        preauth: []
      })
    }
  })
})

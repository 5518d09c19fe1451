// The Debian releases the action supports: Debian 12 (bookworm) and Debian 13 (trixie). The
// other end-to-end files deploy to bookworm hosts; here the sample project goes to a trixie host
// (Python 3.13, Django 4.2, gunicorn 23, systemd 257, nginx 1.26) the same way: a first deploy,
// the page and a static file through nginx, a changed version going live, the same sandbox.
import { execFile } from 'node:child_process'
import { runAction, type ActionRun } from './action.js'
import { deployInputs, edit, get, health, liveService, workspaceWith } from './fixture.js'
import { bootHost, SUITES, TESTHOST_SCRIPT, type Suite, type TestHost } from './testhost.js'

const hostName = (suite: Suite) => `dist-${suite}`

const hosts = new Map<Suite, TestHost>()

beforeAll(async () => {
  // Both, even when one fails, so that neither is left unrecorded.
  const settled = await Promise.allSettled(
    SUITES.map((suite) => bootHost(hostName(suite), { suite }))
  )
  for (const s of settled) if (s.status === 'fulfilled') hosts.set(s.value.suite, s.value)
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

/** The `::error` annotations of a run, one per line. */
const errors = (run: ActionRun) =>
  run.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error'))
    .join('\n')

describe('the test hosts', () => {
  test.each([
    ['bookworm', '12'],
    ['trixie', '13']
  ] as const)('a %s host runs Debian %s', async (suite, version) => {
    const h = host(suite)
    expect(h.suite).toBe(suite)
    const release = await h.exec('. /etc/os-release && echo "$ID $VERSION_ID $VERSION_CODENAME"')
    expect(release).toMatchObject({ code: 0, stdout: `debian ${version} ${suite}\n` })
    // What the deploys need and what the fixtures import, from the suite's own packages.
    const tools = await h.exec(
      'command -v nginx systemd-analyze && python3 -c "import venv, django, gunicorn, compressor"'
    )
    expect(tools).toMatchObject({ code: 0, stderr: '' })
  })

  test('testhost.sh refuses a suite it does not build, before building anything', async () => {
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile('bash', [TESTHOST_SCRIPT, 'build', '--suite', 'sid'], (error, _stdout, stderr) =>
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stderr })
      )
    })
    expect(result).toEqual({
      code: 1,
      stderr: "testhost: error: unknown suite 'sid': use one of: bookworm trixie\n"
    })
  })
})

describe('deploy to Debian 13 (trixie)', () => {
  let firstRelease = ''

  test('a first deploy serves the page and a static file through nginx', async () => {
    const trixie = host('trixie')
    const { workspace } = workspaceWith('v1')
    const run = await runAction(deployInputs(trixie), { workspace })
    expect(errors(run)).toBe('')
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.outputs.status).toBe('success')
    expect(run.outputs['http-status']).toBe('200')
    firstRelease = run.outputs.release
    expect(firstRelease).toMatch(/^\d{8}T\d{6}Z-1a2b3c4$/)

    expect(await health(trixie)).toMatchObject({
      status: 'ok',
      release: firstRelease,
      version: 'v1'
    })
    const page = await get(trixie, '/')
    expect(page.status).toBe(200)
    expect(page.text).toContain('Version v1.')
    const css = await get(trixie, '/static/notes/site.css')
    expect(css.status).toBe(200)
    expect(css.text).toContain('/* django-deploy-action fixture */')
    expect(css.headers.get('server')).toMatch(/^nginx/)

    expect(
      (
        await trixie.exec(
          'systemctl is-active gunicorn-mysite@blue.socket gunicorn-mysite@blue.service'
        )
      ).stdout
    ).toBe('active\nactive\n')
    expect(run.summary).toMatch(/✅ systemd-analyze verify/)
    expect(run.summary).toMatch(/✅ nginx -t with the new site/)
  })

  test('a second deploy of a changed version goes live, with no error in the journal', async () => {
    const trixie = host('trixie')
    const { workspace, project } = workspaceWith('v2')
    edit(project, 'notes/static/notes/site.css', (css) => `${css}\n/* v2 */\n`)
    const since = (await trixie.exec('date +%s')).stdout.trim()
    const run = await runAction(deployInputs(trixie), { workspace })
    expect(errors(run)).toBe('')
    expect(run.code).toBe(0)
    expect(run.outputs['previous-release']).toBe(firstRelease)

    const page = await health(trixie)
    expect(page).toMatchObject({ status: 'ok', version: 'v2', release: run.outputs.release })
    expect(page.release).not.toBe(firstRelease)
    expect((await get(trixie, '/static/notes/site.css')).text).toContain('/* v2 */')
    const journal = await trixie.exec(
      `journalctl -u 'gunicorn-mysite@*.service' -p err --since @${since} --no-pager -q`
    )
    expect(journal.stdout).toBe('')
  })

  test('systemd-analyze security rates the service at most 2.0, as on bookworm', async () => {
    // The same parse as security.test.ts.
    const out = await host('trixie').exec(
      `systemd-analyze security --no-pager ${await liveService(host('trixie'))}`
    )
    expect(out.code).toBe(0)
    const match = /Overall exposure level for \S+: (\d+\.\d+) (\S+)/.exec(out.stdout)
    if (!match) throw new Error(`no exposure level in: ${out.stdout}`)
    expect(Number(match[1])).toBeLessThanOrEqual(2.0)
  })
})

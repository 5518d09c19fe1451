// tls: auto (issue #16): the certificate from an ACME server (Pebble, on this machine, resolving
// the site's names to the test host), obtained by certbot on the host through the site's own
// HTTP-01 answers, served with HTTP redirected; renewed by the host's timer with no failed
// request; a name the server cannot validate fails the deploy with its words and leaves the live
// site as it was; bad inputs are refused before connecting.
import { X509Certificate } from 'node:crypto'
import { connect } from 'node:tls'
import { request as httpsRequest } from 'node:https'
import { type ActionRun, runAction } from './action.js'
import { annotations, deployInputs, get, newCommit, onHost, workspaceWith } from './fixture.js'
import { startPebble, type Pebble } from './pebble.js'
import { bootHost, type TestHost } from './testhost.js'

const NAME = 'mysite.test'
let host: TestHost
let pebble: Pebble

beforeAll(async () => {
  host = await bootHost('tls')
  pebble = await startPebble(host)
})
afterAll(async () => {
  await pebble?.stop()
  await host?.stop()
})

const must = (cmd: string) => onHost(host, cmd)

const inputs = (overrides: Record<string, string> = {}) =>
  deployInputs(host, {
    'server-name': NAME,
    tls: 'auto',
    'acme-email': 'admin@example.com',
    'acme-directory': pebble.directory,
    'acme-directory-ca': pebble.directoryCa,
    hsts: '300',
    // The app's own HTTPS settings: behind nginx it trusts X-Forwarded-Proto.
    dotenv: 'DJANGO_SECURE=1\nDJANGO_HSTS_SECONDS=60',
    ...overrides
  })

function succeeded(run: ActionRun): void {
  if (run.outputs.status !== 'success')
    throw new Error(`the deploy did not succeed (${run.outputs.status}):\n${run.stdout}`)
  expect(run.code).toBe(0)
}

/** The certificate nginx serves for `name`, verified against `ca` (throws when it is not). */
function servedCertificate(name: string, ca: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: host.address, port: 443, servername: name, ca }, () => {
      const peer = socket.getPeerX509Certificate()
      socket.end()
      if (!peer) reject(new Error('no certificate'))
      else resolve(peer)
    })
    socket.on('error', reject)
  })
}

/** GET over HTTPS through nginx, the name in SNI and Host, the chain checked against `ca`. */
function getHttps(
  path: string,
  ca: string
): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: host.address,
        port: 443,
        path,
        servername: NAME,
        headers: { Host: NAME },
        ca,
        timeout: 10000,
        agent: false
      },
      (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => (text += chunk.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }))
      }
    )
    req.on('timeout', () => req.destroy(new Error(`GET https://${NAME}${path} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

describe('bad input is refused before connecting, naming the input', () => {
  test.each([
    ['server-name', { 'server-name': '_' }],
    ['server-name', { 'server-name': '10.0.0.1' }],
    ['acme-email', { 'acme-email': 'admin at example.com' }],
    ['acme-email', { 'acme-email': '' }],
    ['acme-directory', { 'acme-directory': 'ftp://acme.example.com/dir' }],
    ['acme-directory', { 'acme-directory': 'http://acme.example.com/directory' }],
    ['acme-directory-ca', { 'acme-directory-ca': 'not a certificate' }],
    ['tls', { tls: 'automatic' }]
  ])('%s: %j', async (input, overrides) => {
    const run = await runAction(inputs(overrides), { workspace: workspaceWith('bad').workspace })
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(new RegExp(`^::error::Input '${input}': `, 'm'))
    // Refused while reading the settings: no step ran on the host.
    expect(run.stdout).not.toMatch(/Check the host/)
  })
})

describe('tls: auto with Pebble', () => {
  let root = ''
  let serial = ''

  test('a first deploy obtains the certificate and serves HTTPS; HTTP redirects, except challenges', async () => {
    const run = await runAction(inputs(), {
      env: newCommit(),
      workspace: workspaceWith('v1').workspace
    })
    succeeded(run)
    root = await pebble.root()

    // The chain checks against Pebble's root, for the name (tls.connect verifies both).
    const cert = await servedCertificate(NAME, root)
    expect(cert.subjectAltName).toBe(`DNS:${NAME}`)
    expect(cert.checkHost(NAME)).toBe(NAME)
    serial = cert.serialNumber

    // The app sees HTTPS (X-Forwarded-Proto): with SECURE_SSL_REDIRECT on, it answers, no loop.
    const page = await getHttps('/', root)
    expect(page.status).toBe(200)
    expect(page.headers['strict-transport-security']).toContain('max-age=')
    expect(JSON.parse((await getHttps('/healthz', root)).text).version).toBe('v1')

    const plain = await get(host, '/healthz?x=1', { Host: NAME })
    expect(plain.status).toBe(301)
    expect(plain.headers.get('location')).toBe(`https://${NAME}/healthz?x=1`)
    // The ACME server's challenges are answered over plain HTTP, not redirected.
    await must(
      'mkdir -p /srv/mysite/acme/.well-known/acme-challenge && echo token-text > /srv/mysite/acme/.well-known/acme-challenge/probe'
    )
    const challenge = await get(host, '/.well-known/acme-challenge/probe', { Host: NAME })
    expect({ status: challenge.status, text: challenge.text }).toEqual({
      status: 200,
      text: 'token-text\n'
    })

    // Renewed by the host's own timer; the summary says how long the certificate has.
    expect(await must('systemctl is-enabled certbot-renew-mysite.timer')).toBe('enabled\n')
    expect(await must('systemctl is-active certbot-renew-mysite.timer')).toBe('active\n')
    expect(run.summary).toMatch(/the certificate for mysite\.test has \d+ days left/)
    expect(run.outputs.url ?? '').toMatch(/^https:\/\/mysite\.test/)
  })

  test('renewal by the timer’s service: a new certificate, served with no failed request; none loaded while nginx -t fails', async () => {
    // Pebble's certificates last five years: renew now, as the timer does near the end.
    await must(
      "sed -i 's/^#* *renew_before_expiry.*$//' /etc/letsencrypt/renewal/mysite.conf && " +
        "sed -i '1i renew_before_expiry = 3000 days' /etc/letsencrypt/renewal/mysite.conf"
    )
    const statuses: number[] = []
    let done = false
    const load = (async () => {
      while (!done) {
        try {
          statuses.push((await getHttps('/healthz', root)).status)
        } catch {
          statuses.push(0)
        }
      }
    })()
    try {
      await must('systemctl start certbot-renew-mysite.service')
    } finally {
      done = true
      await load
    }
    expect(await must('systemctl show -p Result --value certbot-renew-mysite.service')).toBe(
      'success\n'
    )
    const renewed = await servedCertificate(NAME, root)
    expect(renewed.serialNumber).not.toBe(serial)
    serial = renewed.serialNumber
    expect(statuses.length).toBeGreaterThan(0)
    expect(statuses.filter((s) => s !== 200)).toEqual([])

    // With a configuration nginx refuses, a renewal leaves nginx as it was: nginx -t comes first.
    await must("echo 'not_a_directive on;' > /etc/nginx/conf.d/broken.conf")
    try {
      await must('systemctl start certbot-renew-mysite.service || true')
      expect((await servedCertificate(NAME, root)).serialNumber).toBe(serial)
      expect(await must('systemctl is-active nginx')).toBe('active\n')
      expect(await must('journalctl -u certbot-renew-mysite.service -o cat --no-pager')).toContain(
        'unknown directive "not_a_directive"'
      )
    } finally {
      await must('rm -f /etc/nginx/conf.d/broken.conf')
    }
    await must("sed -i '/^renew_before_expiry = 3000 days$/d' /etc/letsencrypt/renewal/mysite.conf")
  })

  test('a name Pebble cannot validate: the deploy fails with its words, the live site as before; a failed renewal is in the summary', async () => {
    // A renewal that failed (the directory's CA unknown to it): the next deploy says so.
    await must(
      'cp /srv/mysite/.deploy/acme-directory-ca.pem /root/ca.pem && echo broken > /srv/mysite/.deploy/acme-directory-ca.pem'
    )
    await must(
      "sed -i '1i renew_before_expiry = 3000 days' /etc/letsencrypt/renewal/mysite.conf && " +
        '(systemctl start certbot-renew-mysite.service || true)'
    )
    await must("sed -i '/^renew_before_expiry = 3000 days$/d' /etc/letsencrypt/renewal/mysite.conf")
    expect(await must('systemctl show -p Result --value certbot-renew-mysite.service')).not.toBe(
      'success\n'
    )

    // No site answers there: Pebble's connection is refused.
    await pebble.addA('nowhere.test', '127.0.0.1')
    const run = await runAction(inputs({ 'server-name': `${NAME} nowhere.test` }), {
      env: newCommit(),
      workspace: workspaceWith('v2').workspace
    })
    expect(run.outputs.status).toBe('failure')
    expect(run.code).toBe(1)
    const error = annotations(run.stdout, 'error')
      .map((a) => a.message)
      .join('\n')
    expect(error).toContain(
      'The ACME server did not issue the certificate for mysite.test, nowhere.test'
    )
    expect(error).toMatch(/nowhere\.test: connection: .*127\.0\.0\.1.*(refused|connect)/i)
    expect(error).toContain('Nothing was switched')
    expect(run.summary).toContain('Its last renewal on the host failed')

    const live = await servedCertificate(NAME, root)
    expect(live.serialNumber).toBe(serial)
    expect(JSON.parse((await getHttps('/healthz', root)).text).version).toBe('v1')
  })
})

// tls: auto (issue #16): its inputs, the site it renders before and after the certificate, the
// steps the planner adds and where, what certbot's output and the host's facts are read as.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { planRun, planSteps } from '../src/plan.js'
import { renderRenewalService, renderRenewalTimer } from '../src/render/certbot.js'
import { renderSite } from '../src/render/nginx.js'
import {
  acmeHint,
  acmeProblem,
  certificateStep,
  needsCertificate,
  parseAcmeFacts,
  parseCertificateStep,
  siteTls
} from '../src/server/acme.js'
import { healthStep } from '../src/server/health.js'
import type { HostFacts } from '../src/server/facts.js'
import { inspectStep, parseFacts } from '../src/server/inspect.js'
import { readSettings } from '../src/inputs/settings.js'
import type { Settings } from '../src/settings.js'
import { settingsFor, TEST_CA_PEM, hostFacts, refusalOf } from './settings-fixture.js'

let dir: string
let workspace: string
let key: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'acme-'))
  workspace = join(dir, 'workspace')
  mkdirSync(workspace)
  writeFileSync(join(workspace, 'manage.py'), '')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')])
  key = readFileSync(join(dir, 'key'), 'utf8')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function read(overrides: Record<string, string>): Settings {
  const values: Record<string, string> = {
    host: 'app1.example.com',
    username: 'deploy',
    key,
    'insecure-skip-host-key-check': 'true',
    'project-name': 'mysite',
    'server-name': 'example.com www.example.com',
    tls: 'auto',
    'acme-email': 'admin@example.com',
    ...overrides
  }
  return readSettings({ getInput: (name) => values[name] ?? '', workspace })
}

const refusal = (overrides: Record<string, string>) => refusalOf(() => read(overrides), overrides)

const LE = 'https://acme-v02.api.letsencrypt.org/directory'
const auto = (overrides: Partial<Settings> = {}) =>
  settingsFor({
    serverNames: ['example.com', 'www.example.com'],
    acme: { email: 'admin@example.com', directory: LE },
    ...overrides
  })
const facts: HostFacts = hostFacts({ migrated: undefined, backups: undefined })
const issued = { daysLeft: 80, names: ['example.com', 'www.example.com'] }

describe('inputs', () => {
  test("tls: auto with Let's Encrypt's production directory by default", () => {
    const s = read({})
    expect(s.acme).toEqual({ email: 'admin@example.com', directory: LE, directoryCa: undefined })
    expect(s.tlsListen).toBe(443)
    expect(s.hstsMaxAge).toBe(0)
    expect(s.environmentUrl).toBe('https://example.com')
  })

  test('a private directory and the CA of its HTTPS certificate', () => {
    const s = read({
      'acme-directory': 'https://ca.internal:9000/acme/acme/directory',
      'acme-directory-ca': `\n${TEST_CA_PEM.replace(/\n/g, '\r\n')}\n`
    })
    expect(s.acme?.directory).toBe('https://ca.internal:9000/acme/acme/directory')
    expect(s.acme?.directoryCa).toBe(TEST_CA_PEM)
  })

  test.each([
    [{ 'server-name': '_' }, 'server-name', /'_' cannot have a certificate with tls: auto/],
    [{ 'server-name': '' }, 'server-name', /'_' cannot have a certificate/],
    [{ 'server-name': 'example.com 192.0.2.1' }, 'server-name', /'192.0.2.1' cannot/],
    [{ 'server-name': '*.example.com' }, 'server-name', /wildcard/],
    [{ 'server-name': 'localhost' }, 'server-name', /'localhost' cannot/],
    [{ 'acme-email': '' }, 'acme-email', /is required with tls: auto/],
    [{ 'acme-email': 'admin@' }, 'acme-email', /not an email address/],
    [{ 'acme-email': 'a b@example.com' }, 'acme-email', /not an email address/],
    [{ 'acme-directory': 'http://acme.example.com/dir' }, 'acme-directory', /https:\/\//],
    [{ 'acme-directory': 'letsencrypt' }, 'acme-directory', /http:\/\/ or https:\/\//],
    [{ 'acme-directory-ca': 'ca.pem' }, 'acme-directory-ca', /PEM certificates only/],
    [
      { 'acme-directory-ca': TEST_CA_PEM.replace(/MIIB/, 'AAAA') },
      'acme-directory-ca',
      /does not parse/
    ],
    [{ tls: 'on' }, 'tls', /must be auto, or empty/],
    [
      { 'tls-certificate': '/etc/ssl/a.pem', 'tls-certificate-key': '/etc/ssl/a.key' },
      'tls',
      /leave tls-certificate and tls-certificate-key empty/
    ],
    [{ listen: '443' }, 'tls-listen', /needs plain HTTP/],
    [{ 'tls-listen': '0' }, 'tls-listen', /from 1 to 65535/],
    [{ hsts: 'yes' }, 'hsts', /whole number/],
    [{ tls: '', 'acme-email': 'admin@example.com' }, 'acme-email', /only used with tls: auto/]
  ])('%j is refused, naming %s', (overrides, input, says) => {
    const error = refusal(overrides)
    expect(error.input).toBe(input)
    expect(error.message).toMatch(says)
  })
})

describe('the site', () => {
  test('before the first certificate: plain HTTP, answering the challenges', () => {
    const site = renderSite(auto(), {}, siteTls(auto(), facts))
    expect(site).not.toContain('ssl')
    expect(site).toContain('listen 80;')
    expect(site).toContain(
      'location ^~ /.well-known/acme-challenge/ {\n        root /srv/mysite/acme;\n        default_type text/plain;\n    }'
    )
    expect(site).not.toContain('return 301')
  })

  test('with the certificate: HTTPS on tls-listen, HTTP redirected except the challenges, HSTS', () => {
    const s = auto({ tlsListen: 8443, hstsMaxAge: 31536000 })
    const site = renderSite(s, {}, siteTls(s, { certificate: issued }))
    const [redirect, main] = site.split('server {').slice(1)
    expect(redirect).toContain('listen 80;')
    expect(redirect).toContain('location ^~ /.well-known/acme-challenge/ {')
    expect(redirect).toContain(
      'location / {\n        return 301 https://$host:8443$request_uri;\n    }'
    )
    expect(main).toContain('listen 8443 ssl;')
    expect(main).toContain('ssl_certificate /etc/letsencrypt/live/mysite/fullchain.pem;')
    expect(main).toContain('ssl_certificate_key /etc/letsencrypt/live/mysite/privkey.pem;')
    expect(main).toContain('ssl_protocols TLSv1.2 TLSv1.3;')
    expect(main).toContain('add_header Strict-Transport-Security "max-age=31536000" always;')
    expect(main).toContain('proxy_set_header X-Forwarded-Proto $scheme;')
    expect(main).not.toContain('acme-challenge')
  })

  test('tls-certificate: the same HTTPS settings; HSTS only when asked', () => {
    const s = settingsFor({ tlsCertificate: '/etc/ssl/a.pem', tlsCertificateKey: '/etc/ssl/a.key' })
    const site = renderSite(s)
    expect(site).toContain('listen 443 ssl;')
    expect(site).toContain('return 301 https://$host$request_uri;')
    expect(site).toContain('ssl_protocols TLSv1.2 TLSv1.3;')
    expect(site).not.toContain('Strict-Transport-Security')
  })

  test('the renewal timer: certbot renew, nginx -t before the reload, the directory CA', () => {
    const service = renderRenewalService(
      auto({ acme: { email: 'a@b.cd', directory: LE, directoryCa: TEST_CA_PEM } })
    )
    expect(service).toContain(
      'ExecStart=/usr/bin/certbot renew --non-interactive --no-random-sleep-on-renew --cert-name mysite --deploy-hook "nginx -t && systemctl reload nginx"'
    )
    expect(service).toContain(
      'Environment=REQUESTS_CA_BUNDLE=/srv/mysite/.deploy/acme-directory-ca.pem'
    )
    expect(renderRenewalService(auto())).not.toContain('REQUESTS_CA_BUNDLE')
    expect(renderRenewalTimer(auto())).toMatch(
      /OnCalendar=.*\nRandomizedDelaySec=1h\nPersistent=true/
    )
  })
})

describe('the plan', () => {
  const plan = (s: Settings, hostFacts: Partial<HostFacts>) =>
    planRun({
      settings: s,
      facts: { ...facts, ...hostFacts },
      newRelease: '20261129T000000Z-abc',
      venvKey: null,
      projectSettings: {}
    })
  const ids = (p: ReturnType<typeof plan>) => planSteps(p).map((step) => step.id)

  test('a first certificate: after the HTTP site is healthy, then the HTTPS site behind nginx -t', () => {
    const p = plan(auto(), {})
    expect(ids(p)).toEqual(
      expect.arrayContaining(['health', 'certificate', 'nginx-t', 'reload-nginx', 'renewal-timer'])
    )
    const order = ids(p)
    expect(order.indexOf('switch')).toBeLessThan(order.indexOf('certificate'))
    expect(order.lastIndexOf('nginx-t')).toBeGreaterThan(order.indexOf('certificate'))
    // The app's redirect to HTTPS (SECURE_SSL_REDIRECT) is no refusal yet: HTTPS follows.
    expect(p.health.command.text).toContain(":80' / example.com upgrade ")
    expect(p.secure?.health.command.text).toContain("1:443' / example.com tls ")
    expect(p.files.renewalTimer?.path).toBe('/etc/systemd/system/certbot-renew-mysite.timer')
  })

  test('a name added: the certificate is extended before the gates, through the live site', () => {
    const p = plan(auto(), {
      certificate: { daysLeft: 80, names: ['example.com'] },
      challengeServed: true
    })
    const order = ids(p)
    expect(order.indexOf('certificate')).toBeLessThan(order.indexOf('nginx-t'))
    expect(p.secure).toBeUndefined()
    expect(p.health.command.text).toContain(' tls ')
  })

  test('a valid certificate for every name: no request to the ACME server', () => {
    expect(needsCertificate(auto(), { certificate: issued })).toBe(false)
    expect(needsCertificate(auto(), { certificate: { ...issued, daysLeft: 30 } })).toBe(true)
    expect(ids(plan(auto(), { certificate: issued, challengeServed: true }))).not.toContain(
      'certificate'
    )
  })

  test('certbot in webroot mode, every name, the reload behind nginx -t, quoted', () => {
    const step = certificateStep(
      auto({ acme: { email: 'admin@example.com', directory: LE, directoryCa: TEST_CA_PEM } })
    )
    expect(step.command.text).toContain(
      "REQUESTS_CA_BUNDLE=/srv/mysite/.deploy/acme-directory-ca.pem certbot certonly --non-interactive --agree-tos --no-eff-email --keep-until-expiring --expand --email 'admin@example.com' --server 'https://acme-v02.api.letsencrypt.org/directory' --webroot -w /srv/mysite/acme --cert-name mysite --deploy-hook 'nginx -t && systemctl reload nginx' -d example.com -d www.example.com"
    )
  })

  test('tls-listen is where the health check speaks TLS (tls-certificate too)', () => {
    const s = settingsFor({
      listen: { port: 8080 },
      tlsListen: 8443,
      tlsCertificate: '/a',
      tlsCertificateKey: '/b'
    })
    expect(healthStep(s).command.text).toMatch(/ '127\.0\.0\.1:8443' \/ example\.com tls /)
  })
})

describe('what the host and certbot said', () => {
  test('inspect: certbot is required and named; the certificate, the challenges, a failed renewal', () => {
    expect(inspectStep(auto()).command.text).toContain('install the package certbot')
    expect(inspectStep(settingsFor()).command.text).not.toContain('certbot')
    const log = Buffer.from(
      'Failed to renew certificate mysite with error: HTTPSConnectionPool: Max retries exceeded\nAll renewals failed.\n'
    ).toString('base64')
    const host = parseFacts(
      `cpus=2\nlive=\ncertificate=42 example.com,www.example.com\nchallenge=yes\nrenewal-failed=${log}\n`
    )
    expect(host.certificate).toEqual({ daysLeft: 42, names: ['example.com', 'www.example.com'] })
    expect(host.challengeServed).toBe(true)
    expect(host.renewalProblem).toContain('Max retries exceeded')
    expect(parseAcmeFacts(new Map())).toEqual({})
  })

  test("a refused challenge: the ACME server's words for each name", () => {
    const output = [
      'Saving debug log to /var/log/letsencrypt/letsencrypt.log',
      'Requesting a certificate for example.com and nowhere.example.com',
      '',
      'Certbot failed to authenticate some domains (authenticator: webroot). The Certificate Authority reported these problems:',
      '  Domain: nowhere.example.com',
      '  Type:   connection',
      '  Detail: 127.0.0.1: Fetching http://nowhere.example.com/.well-known/acme-challenge/x: Connection refused',
      '',
      'Hint: The Certificate Authority failed to download the temporary challenge files.'
    ].join('\n')
    expect(acmeProblem(output)).toBe(
      'nowhere.example.com: connection: 127.0.0.1: Fetching http://nowhere.example.com/.well-known/acme-challenge/x: Connection refused'
    )
    expect(
      acmeProblem(
        'An unexpected error occurred:\nError creating new order :: too many certificates already issued for "example.com"\nAsk for help or search for solutions at https://community.letsencrypt.org.'
      )
    ).toBe('Error creating new order :: too many certificates already issued for "example.com"')
  })

  test('a directory that does not answer, a rate limit: what to do next', () => {
    const unreachable = acmeProblem(
      "An unexpected error occurred:\nrequests.exceptions.ConnectionError: HTTPSConnectionPool(host='acme.example.com', port=443): Max retries exceeded with url: /directory (Caused by NewConnectionError('Failed to establish a new connection: [Errno 111] Connection refused'))\nAsk for help or search for solutions at https://community.letsencrypt.org."
    )
    expect(unreachable).toMatch(/^requests\.exceptions\.ConnectionError: .*Connection refused/)
    expect(acmeHint(unreachable)).toMatch(/did not answer the server: check acme-directory/)
    expect(acmeHint('urn:ietf:params:acme:error:rateLimited: too many certificates')).toMatch(
      /limits how many certificates/
    )
    expect(acmeHint('example.com: dns: no valid A records')).toMatch(/resolves .* to this host/)
  })

  test('the certificate step reports the certificate it left', () => {
    expect(
      parseCertificateStep('Successfully received certificate.\ncertificate=1825 example.com\n')
    ).toEqual({
      daysLeft: 1825,
      names: ['example.com']
    })
    expect(parseCertificateStep('nothing')).toBeUndefined()
  })
})

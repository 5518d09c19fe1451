// tls: auto: the certificate for every server name, from an ACME server, by Debian's certbot on
// the host in webroot mode (the HTTP-01 challenges answered by the project's own nginx site), so
// the account and the key never leave the server; renewed there by a timer (render/certbot.ts).

import { Buffer } from 'node:buffer'
import { RELOAD_HOOK, renderRenewalService, renderRenewalTimer } from '../render/certbot.js'
import type { SiteTls } from '../render/nginx.js'
import { manualTls } from '../render/nginx.js'
import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import { layout, renewalUnitNames } from './layout.js'
import type { Step } from './step.js'
import { pythonFile } from './python.js'

/** certbot renews this close to the end (its default), and so does a deploy. */
export const RENEW_DAYS = 30

/** The certificate the host has for the site. */
export interface CertificateFacts {
  daysLeft: number
  names: string[]
}

/** What the host said about tls: auto (a part of HostFacts). */
export interface AcmeFacts {
  certificate?: CertificateFacts
  /** the live site answers ACME challenges: a certificate can be obtained before the switch */
  challengeServed?: boolean
  /** the last renewal by the timer failed: what it said */
  renewalProblem?: string
}

/** What a certificate file says (python/certificate.py). */
export const CERT_PY = pythonFile(new URL('./python/certificate.py', import.meta.url))

/** Prints `certificate=<days left> <names>` when the host has the site's certificate. */
function printCertificate(s: Settings): ShellText {
  const p = layout(s).acme
  return sh`if [ -f ${p.certificate} ]; then ${s.python} -I -c ${CERT_PY} ${p.certificate} || true; fi`
}

/** Lines of the inspect step: certbot is there, the certificate, the challenges, the renewal. */
export function inspectAcme(s: Settings): ShellText[] {
  const p = layout(s)
  const service = renewalUnitNames(s.instanceName).service
  return [
    raw('if ! command -v certbot >/dev/null 2>&1; then'),
    raw(
      "  echo 'tls: auto needs certbot on the host: install the package certbot (Debian/Ubuntu: apt-get install certbot)' >&2"
    ),
    raw('  exit 3'),
    raw('fi'),
    printCertificate(s),
    sh`grep -qF /.well-known/acme-challenge/ ${p.site} 2>/dev/null && echo challenge=yes`,
    sh`result=$(systemctl show -p Result --value ${service} 2>/dev/null)`,
    raw('if [ -n "$result" ] && [ "$result" != success ]; then'),
    sh`  echo "renewal-failed=$(journalctl -u ${service} -n 40 -o cat --no-pager 2>/dev/null | base64 -w0)"`,
    raw('fi'),
    raw('true')
  ]
}

/** Reads the lines of `inspectAcme` (or of the certificate step) from `key=value` pairs. */
export function parseAcmeFacts(values: Map<string, string>): AcmeFacts {
  const facts: AcmeFacts = {}
  const certificate = /^(-?\d+) ([\w.,*-]*)$/.exec(values.get('certificate') ?? '')
  if (certificate)
    facts.certificate = {
      daysLeft: Number(certificate[1]),
      names: certificate[2].split(',').filter((n) => n !== '')
    }
  if (values.get('challenge') === 'yes') facts.challengeServed = true
  const failed = values.get('renewal-failed')
  if (failed !== undefined)
    facts.renewalProblem =
      acmeProblem(Buffer.from(failed, 'base64').toString()) || 'the renewal failed'
  return facts
}

/** The certificate's facts the certificate step printed. */
export function parseCertificateStep(stdout: string): CertificateFacts | undefined {
  const line = stdout.split('\n').findLast((l) => l.startsWith('certificate='))
  return line
    ? parseAcmeFacts(new Map([['certificate', line.slice(12).trim()]])).certificate
    : undefined
}

/** What to do about a refused certificate, by what the ACME server said. */
export function acmeHint(problem: string): string {
  if (/HTTPSConnectionPool|SSLError|CERTIFICATE_VERIFY_FAILED|Max retries exceeded/i.test(problem))
    return 'The ACME directory did not answer the server: check acme-directory, that the server reaches it over HTTPS, and, for a private CA, acme-directory-ca.'
  if (/rateLimited|too many/i.test(problem))
    return 'The ACME server limits how many certificates a name gets: wait for the time it says, or try acme-directory with its staging server first.'
  return 'Make sure every name in server-name resolves (DNS A/AAAA records) to this host and that the ACME server reaches it on port 80; the next deploy tries again.'
}

/** The certificate the site serves: tls-certificate, or ACME's once the host has it. */
export function siteTls(s: Settings, facts: Pick<AcmeFacts, 'certificate'>): SiteTls {
  if (!s.acme) return manualTls(s)
  const p = layout(s).acme
  return facts.certificate
    ? { certificate: p.certificate, key: p.key, challengeRoot: p.webroot }
    : { challengeRoot: p.webroot }
}

/** Whether the health check speaks TLS: the site serves a certificate. */
export function servesTls(s: Settings, facts: Pick<AcmeFacts, 'certificate'>): boolean {
  return siteTls(s, facts).certificate !== undefined
}

/** A deploy asks for a certificate when the host has none, one without a name, or one near its end. */
export function needsCertificate(s: Settings, facts: Pick<AcmeFacts, 'certificate'>): boolean {
  const cert = facts.certificate
  if (!s.acme) return false
  if (!cert) return true
  return cert.daysLeft <= RENEW_DAYS || s.serverNames.some((n) => !cert.names.includes(n))
}

/**
 * certbot certonly in webroot mode: a certificate for every server name, kept when it is valid
 * and covers them, extended when a name was added. Prints the certificate's facts.
 */
export function certificateStep(s: Settings): Step {
  const acme = s.acme
  if (!acme) throw new Error('certificateStep without tls: auto')
  const p = layout(s).acme
  const domains = raw(s.serverNames.map((n) => sh`-d ${n}`.text).join(' '))
  const env = acme.directoryCa ? sh`REQUESTS_CA_BUNDLE=${p.directoryCa} ` : raw('')
  return {
    id: 'certificate',
    phase: 'gates',
    title: `Obtain the certificate for ${s.serverNames.join(', ')} (ACME, HTTP-01)`,
    privileged: true,
    command: script(
      raw('set -u'),
      sh`install -d -m 755 ${p.webroot}`,
      acme.directoryCa
        ? sh`printf %s ${Buffer.from(acme.directoryCa).toString('base64')} | base64 -d > ${p.directoryCa}.new && chmod 600 ${p.directoryCa}.new && mv -f ${p.directoryCa}.new ${p.directoryCa}`
        : undefined,
      sh`${env}certbot certonly --non-interactive --agree-tos --no-eff-email --keep-until-expiring --expand --email ${acme.email} --server ${acme.directory} --webroot -w ${p.webroot} --cert-name ${p.certName} --deploy-hook ${RELOAD_HOOK} ${domains} 2>&1 || exit`,
      printCertificate(s)
    )
  }
}

/**
 * What the ACME server said, from certbot's output: its problem for each name (type and detail),
 * or the error certbot reported; '' when there is none.
 */
export function acmeProblem(output: string): string {
  const lines = output.split('\n').map((l) => l.trim())
  const problems: string[] = []
  let domain = ''
  let type = ''
  for (const line of lines) {
    const field = /^(Domain|Type|Detail):\s*(.*)$/.exec(line)
    if (!field) continue
    if (field[1] === 'Domain') domain = field[2]
    else if (field[1] === 'Type') type = field[2]
    else problems.push(`${domain ? `${domain}: ` : ''}${type ? `${type}: ` : ''}${field[2]}`)
  }
  if (problems.length > 0) return problems.join('\n')
  const error = lines.findIndex((l) => /^An unexpected error occurred:?$/.test(l))
  if (error >= 0 && lines[error + 1]) return lines[error + 1]
  const said = lines.filter(
    (l) =>
      l !== '' &&
      !/^(Saving debug log|Ask for help|See the logfile|Some challenges have failed|Hint:|Requesting a certificate|Account registered)/.test(
        l
      )
  )
  return said.slice(-3).join('\n')
}

/** The renewal timer, enabled and started once its units are in place (after a healthy deploy). */
export function renewalTimerStep(s: Settings): Step {
  const units = renewalUnitNames(s.instanceName)
  return {
    id: 'renewal-timer',
    phase: 'cleanup',
    title: `Enable ${units.timer} (certbot renew)`,
    privileged: true,
    command: script(
      raw('set -eu'),
      raw('systemctl daemon-reload'),
      sh`systemctl enable --now --quiet ${units.timer}`
    )
  }
}

export function renewalFiles(s: Settings): {
  renewalService: { path: string; text: string }
  renewalTimer: { path: string; text: string }
} {
  const p = layout(s).acme
  return {
    renewalService: { path: p.units.service, text: renderRenewalService(s) },
    renewalTimer: { path: p.units.timer, text: renderRenewalTimer(s) }
  }
}

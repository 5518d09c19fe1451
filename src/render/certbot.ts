// tls: auto's renewal: a systemd timer that runs `certbot renew` for the site's certificate,
// and reloads nginx only after `nginx -t` passes.

import type { Settings } from '../settings.js'
import { layout } from '../server/layout.js'
import { MANAGED_HEADER } from './gunicorn.js'
import { systemdQuote, systemdValue, systemdWord } from './systemd-escape.js'

/** certbot runs it after each renewal: a configuration nginx refuses is never loaded. */
export const RELOAD_HOOK = 'nginx -t && systemctl reload nginx'

export function renderRenewalService(s: Settings): string {
  const p = layout(s).acme
  const lines = [
    MANAGED_HEADER,
    '[Unit]',
    `Description=${systemdValue(`Renew the TLS certificate of ${s.instanceName}`)}`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=oneshot'
  ]
  // certbot speaks to the directory through python-requests, which reads its CA bundle here.
  if (s.acme?.directoryCa)
    lines.push(`Environment=${systemdWord(`REQUESTS_CA_BUNDLE=${p.directoryCa}`)}`)
  const args = [
    'renew',
    '--non-interactive',
    // The timer spreads the runs already (RandomizedDelaySec).
    '--no-random-sleep-on-renew',
    '--cert-name',
    p.certName,
    '--deploy-hook',
    RELOAD_HOOK
  ]
  lines.push(`ExecStart=/usr/bin/certbot ${args.map(systemdQuote).join(' ')}`)
  return `${lines.join('\n')}\n`
}

/** Twice a day, as certbot's own timer: certbot renews once 30 days or fewer are left. */
export function renderRenewalTimer(s: Settings): string {
  return [
    MANAGED_HEADER,
    '[Unit]',
    `Description=${systemdValue(`Renew the TLS certificate of ${s.instanceName} twice a day`)}`,
    '',
    '[Timer]',
    'OnCalendar=*-*-* 00,12:00:00',
    'RandomizedDelaySec=1h',
    'Persistent=true',
    '',
    '[Install]',
    'WantedBy=timers.target',
    ''
  ].join('\n')
}

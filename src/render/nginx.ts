// The nginx site: gunicorn's socket as upstream, static and media served directly, optional TLS.

import type { Settings } from '../settings.js'
import { baseName, layout, socketPath } from '../server/layout.js'
import { DEFAULT_PROXY_READ_TIMEOUT_S, isAsgi } from '../asgi.js'
import { MANAGED_HEADER } from './gunicorn.js'

export interface SitePaths {
  staticUrl?: string
  staticRoot?: string
  mediaUrl?: string
  mediaRoot?: string
  /**
   * Folders below the static or media root that live elsewhere (kept in shared/ and linked, as
   * django-compressor's online cache): `below` the root, served from `root`. nginx follows no
   * link the app could have planted, so these get locations of their own.
   */
  staticBelow?: FolderBelow[]
  mediaBelow?: FolderBelow[]
}

export interface FolderBelow {
  /** the path below the static or media root, e.g. CACHE */
  below: string
  /** where it really is */
  root: string
}

const INDENT = '    '
const SAFE_PATH = /^[A-Za-z0-9_./-]+$/
const SAFE_SOCKET = /^[A-Za-z0-9_./:-]+$/

function quoteIfNeeded(value: string, safe: RegExp): string {
  if (/\p{Cc}/u.test(value)) {
    throw new RangeError(`control character in an nginx value: ${JSON.stringify(value)}`)
  }
  if (safe.test(value)) return value
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

/** nginx's double-quote quoting, used when a value holds anything outside `[A-Za-z0-9_./-]`. */
export function nginxQuote(value: string): string {
  return quoteIfNeeded(value, SAFE_PATH)
}

/** A file path in a directive that expands variables (alias, ssl_certificate): `$` has no escape. */
export function nginxPath(path: string): string {
  if (path.includes('$')) {
    throw new RangeError(`cannot be written as an nginx path: ${JSON.stringify(path)}`)
  }
  return nginxQuote(path)
}

export function upstreamName(instanceName: string): string {
  return `gunicorn_${instanceName}`
}

/** How the site does TLS: with a certificate (and its key), and/or answering ACME challenges. */
export interface SiteTls {
  certificate?: string
  key?: string
  /** tls: auto: HTTP-01 challenges are answered from this folder over plain HTTP */
  challengeRoot?: string
}

/** tls-certificate and tls-certificate-key, when set. */
export function manualTls(s: Settings): SiteTls {
  const { tlsCertificate: certificate, tlsCertificateKey: key } = s
  return certificate !== undefined && key !== undefined ? { certificate, key } : {}
}

/**
 * Mozilla's "intermediate" configuration: TLS 1.2 and 1.3, forward-secret AEAD ciphers only
 * (no DHE: it would need a dhparam file).
 */
const TLS_PROTOCOLS = 'TLSv1.2 TLSv1.3'
const TLS_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305'
].join(':')

/**
 * `paths` are the static and media locations the caller resolved (inputs, else the project's
 * Django settings); the settings' own values fill what it left out. `siteTls` is the certificate
 * the site serves (tls-certificate, or the one ACME issued) and where challenges are answered.
 */
export function renderSite(
  s: Settings,
  paths: SitePaths = {},
  siteTls: SiteTls = manualTls(s)
): string {
  const upstream = upstreamName(s.instanceName)
  const { certificate, key, challengeRoot } = siteTls
  const tls = certificate !== undefined && key !== undefined
  const catchAll = s.serverNames.length === 1 && s.serverNames[0] === '_'
  const serverName = `server_name ${s.serverNames.map(nginxQuote).join(' ')};`

  const main: string[] = [
    ...listen(s.listen.address, tls ? s.tlsListen : s.listen.port, tls, catchAll),
    serverName
  ]
  main.push(...tlsPart(s, siteTls))
  main.push(
    '',
    ...maintenanceLines(s, {
      hsts: tls ? hstsLine(s) : [],
      challenges: !tls && challengeRoot !== undefined
    }),
    '',
    `client_max_body_size ${nginxQuote(s.clientMaxBodySize)};`,
    '',
    'location = /favicon.ico { access_log off; log_not_found off; }',
    ...fileLocations(s, paths),
    '',
    ...proxyLocation(s, upstream)
  )
  const extra = directiveLines(s.nginxDirectives)
  if (extra.length > 0) main.push('', '# nginx-directives input', ...extra)

  const blocks = [
    ...connectionMap(s),
    [
      `upstream ${upstream} {`,
      ...indent([
        `server ${quoteIfNeeded(`unix:${socketPath(s.instanceName)}`, SAFE_SOCKET)} fail_timeout=0;`
      ]),
      '}'
    ]
  ]
  if (tls && s.listen.port !== s.tlsListen) {
    blocks.push(
      serverBlock([
        ...listen(s.listen.address, s.listen.port, false, catchAll),
        serverName,
        '',
        ...httpsRedirect(s.tlsListen, challengeRoot)
      ])
    )
  }
  blocks.push(serverBlock(main))

  return `${MANAGED_HEADER}\n\n${blocks.map((b) => b.join('\n')).join('\n\n')}\n`
}

/** The variable the maintenance switch sets: nginx's own, read only by the lines below. */
const MAINTENANCE_VARIABLE = '$django_deploy_maintenance'
/** The internal location that answers 503, and the page's (names no request can ask for). */
const MAINTENANCE_LOCATION = '/.django-deploy-maintenance'
const MAINTENANCE_PAGE_LOCATION = '/.django-deploy-maintenance.html'
/** How long a client is told to wait before it asks again, in seconds. */
export const MAINTENANCE_RETRY_AFTER_S = 120
/** The line by which a site is known to have the maintenance switch (server/maintenance.ts). */
export const MAINTENANCE_MARK = '# Maintenance: on while'

/**
 * Maintenance: while the flag file exists, every request (static and media too) answers 503 with
 * the page and a Retry-After, and none reaches the app; the allowed addresses still do, and so do
 * the ACME server's challenges. nginx tests the files on every request: switching is a file made
 * or removed, no reload, and it outlives a reboot. The 503 is answered only in its own location,
 * so another 503 of the site (limit_req) keeps nginx's own page; its page is an error_page by URI,
 * which nginx asks for with GET whatever the method was (a POST gets the page, not a 405).
 */
function maintenanceLines(s: Settings, block: { hsts: string[]; challenges: boolean }): string[] {
  const m = layout(s).maintenance
  const v = MAINTENANCE_VARIABLE
  return [
    `${MAINTENANCE_MARK} ${m.flag} exists (tested on every request: no reload).`,
    `set ${v} "";`,
    `if (-f ${nginxPath(m.flag)}) { set ${v} on; }`,
    // Quoted when need be: nginx expands the variable inside quotes too (a deploy path with a `$`
    // of its own is refused by nginxPath, above).
    `if (-f ${nginxQuote(`${m.allow}/$remote_addr`)}) { set ${v} ""; }`,
    // This block answers the ACME server's challenges (tls: auto before its first certificate).
    ...(block.challenges ? [`if ($uri ~ ^/\\.well-known/acme-challenge/) { set ${v} ""; }`] : []),
    // The page's own request comes through here again.
    `if ($uri = ${MAINTENANCE_PAGE_LOCATION}) { set ${v} ""; }`,
    `if (${v}) { rewrite ^ ${MAINTENANCE_LOCATION} last; }`,
    `location = ${MAINTENANCE_LOCATION} {`,
    ...indent(['internal;', `error_page 503 ${MAINTENANCE_PAGE_LOCATION};`, 'return 503;']),
    '}',
    `location = ${MAINTENANCE_PAGE_LOCATION} {`,
    ...indent([
      'internal;',
      `root ${nginxPath(m.folder)};`,
      `rewrite ^ /${baseName(m.page)} break;`,
      symlinksFrom(s, m.folder),
      'default_type text/html;',
      'charset utf-8;',
      // add_header here replaces the server's: HSTS is said again.
      ...block.hsts,
      `add_header Retry-After ${MAINTENANCE_RETRY_AFTER_S} always;`,
      'add_header Cache-Control "no-store" always;'
    ]),
    '}'
  ]
}

/** Everything but the static and media files goes to gunicorn. */
function proxyLocation(s: Settings, upstream: string): string[] {
  return [
    'location / {',
    ...indent([
      'proxy_set_header Host $http_host;',
      'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      'proxy_set_header X-Forwarded-Proto $scheme;',
      'proxy_set_header X-Real-IP $remote_addr;',
      'proxy_redirect off;',
      ...webSocketLines(s),
      `proxy_pass http://${upstream};`
    ]),
    '}'
  ]
}

/**
 * The site is included at nginx's http level, where a `map` is too; its variable is named after
 * the project, so another site's map (often `$connection_upgrade`) never clashes with it. A
 * variable's name has no `-`, which a preview's instance name has (mysite-pr-1): it is written `_`
 * (a project named mysite_pr_1 would share the variable, and the same map gives it the same value).
 */
export function connectionVariable(instanceName: string): string {
  return `$connection_upgrade_${instanceName.replaceAll('-', '_')}`
}

/** An upgrade asked for is passed on; a plain request sends no Connection header, so keeps alive. */
function connectionMap(s: Settings): string[][] {
  if (!isAsgi(s)) return []
  return [
    [
      `map $http_upgrade ${connectionVariable(s.instanceName)} {`,
      ...indent(['default upgrade;', "'' '';"]),
      '}'
    ]
  ]
}

/** An ASGI app speaks WebSocket: the upgrade goes through, and an idle socket stays open. */
function webSocketLines(s: Settings): string[] {
  if (!isAsgi(s)) return []
  return [
    'proxy_http_version 1.1;',
    'proxy_set_header Upgrade $http_upgrade;',
    `proxy_set_header Connection ${connectionVariable(s.instanceName)};`,
    `proxy_read_timeout ${s.proxyReadTimeoutS ?? DEFAULT_PROXY_READ_TIMEOUT_S}s;`
  ]
}

/** The certificate; before the first one, the challenges the plain HTTP site answers itself. */
function tlsPart(s: Settings, { certificate, key, challengeRoot }: SiteTls): string[] {
  if (certificate !== undefined && key !== undefined)
    return ['', ...tlsDirectives(s, certificate, key)]
  return challengeRoot !== undefined ? ['', ...challengeLocation(challengeRoot)] : []
}

function tlsDirectives(s: Settings, cert: string, key: string): string[] {
  const lines = [
    `ssl_certificate ${nginxPath(cert)};`,
    `ssl_certificate_key ${nginxPath(key)};`,
    `ssl_protocols ${TLS_PROTOCOLS};`,
    `ssl_ciphers ${TLS_CIPHERS};`,
    'ssl_prefer_server_ciphers off;'
  ]
  return [...lines, ...hstsLine(s)]
}

/** `always`: error pages too; browsers ignore the header over plain HTTP. */
function hstsLine(s: Settings): string[] {
  return s.hstsMaxAge > 0
    ? [`add_header Strict-Transport-Security "max-age=${s.hstsMaxAge}" always;`]
    : []
}

/** `^~`: no regular-expression location (nginx-directives) takes the challenges. */
function challengeLocation(root: string): string[] {
  return [
    'location ^~ /.well-known/acme-challenge/ {',
    ...indent([`root ${nginxPath(root)};`, 'default_type text/plain;']),
    '}'
  ]
}

/** Plain HTTP sends every request to HTTPS, except the ACME server's challenges. */
function httpsRedirect(tlsPort: number, challengeRoot: string | undefined): string[] {
  const target = `return 301 https://$host${tlsPort === 443 ? '' : `:${tlsPort}`}$request_uri;`
  if (challengeRoot === undefined) return [target]
  return [...challengeLocation(challengeRoot), '', 'location / {', ...indent([target]), '}']
}

function listen(address: string | undefined, port: number, ssl: boolean, catchAll: boolean) {
  const flags = `${ssl ? ' ssl' : ''}${catchAll ? ' default_server' : ''};`
  if (address === undefined) return [`listen ${port}${flags}`, `listen [::]:${port}${flags}`]
  // A bare IPv6 address needs brackets before the port.
  const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address
  return [`listen ${host}:${port}${flags}`]
}

/** The static and media files, served by nginx itself. */
function fileLocations(s: Settings, paths: SitePaths): string[] {
  return [
    ...aliasLocation(
      s,
      paths.staticUrl ?? s.staticUrl,
      paths.staticRoot ?? s.staticRoot,
      // Only static: media may be replaced under the same name by the app.
      ['expires 30d;'],
      paths.staticBelow
    ),
    ...aliasLocation(
      s,
      paths.mediaUrl ?? s.mediaUrl,
      paths.mediaRoot ?? s.mediaRoot,
      [],
      paths.mediaBelow
    )
  ]
}

function aliasLocation(
  s: Settings,
  url: string | undefined,
  root: string | undefined,
  extra: string[],
  below: FolderBelow[] = []
) {
  if (url === undefined || root === undefined) return []
  const location = locationPath(url)
  // An absolute URL (a CDN) is not ours to serve.
  if (location === undefined) return []
  const block = (path: string, folder: string) => {
    // Both end in '/': a location without it would let /static../ reach the alias's parent.
    const alias = `${folder.replace(/\/+$/, '')}/`
    return [
      '',
      `location ${nginxQuote(path)} {`,
      ...indent([`alias ${nginxPath(alias)};`, symlinksFrom(s, folder), ...extra]),
      '}'
    ]
  }
  return [
    ...block(location, root),
    ...below.flatMap((folder) => block(`${location}${folder.below}/`, folder.root))
  ]
}

/**
 * nginx follows no link below the part of a served folder's path that is root's: the app writes
 * static and media files, and a link it plants there (to nginx's logs, another site's media, a
 * request body in flight) is refused. `current` is root's link to the release; the rest of the
 * deploy path is root's folders (shared/ is the app's, but sits in root's deploy path: the app
 * cannot replace it). A folder an input names elsewhere is checked from / on: a folder above it
 * may be the app's too (writable-paths), and the action made every component without a link.
 */
export function symlinksFrom(s: Settings, folder: string): string {
  const p = layout(s)
  const under = (base: string) => folder === base || folder.startsWith(`${base}/`)
  const trusted = under(p.current) ? p.current : under(p.root) ? p.root : undefined
  if (trusted === undefined) return 'disable_symlinks on;'
  // The whole parameter is one word: nginx takes a quote only at the start of one.
  if (trusted.includes('$')) {
    throw new RangeError(`cannot be written as an nginx path: ${JSON.stringify(trusted)}`)
  }
  return `disable_symlinks on ${quoteIfNeeded(`from=${trusted}`, /^from=[A-Za-z0-9_./-]+$/)};`
}

function locationPath(url: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(url)) return undefined
  const withLead = url.startsWith('/') ? url : `/${url}`
  return withLead.endsWith('/') ? withLead : `${withLead}/`
}

function directiveLines(directives: string): string[] {
  const lines = directives.split(/\r?\n/).map((l) => l.trimEnd())
  while (lines.length > 0 && lines[0] === '') lines.shift()
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  return lines
}

function serverBlock(lines: string[]): string[] {
  return ['server {', ...indent(lines), '}']
}

function indent(lines: string[]): string[] {
  return lines.map((l) => (l === '' ? '' : `${INDENT}${l}`))
}

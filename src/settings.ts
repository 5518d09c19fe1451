// The typed settings object: every input of action.yml, read and validated once in settings.ts.
// Everything else in the action takes its values from here, already checked.

export interface HostAddress {
  /** host name or IP address, validated (no spaces, no shell or config metacharacters) */
  name: string
  port: number
}

export interface JumpHost extends HostAddress {
  username: string
}

export interface StatusRange {
  min: number
  max: number
}

export interface Settings {
  // Connection
  hosts: HostAddress[]
  username: string
  privateKey?: string
  passphrase?: string
  password?: string
  /** known_hosts text as given (validated line by line) */
  knownHosts: string
  /** SHA256:... fingerprints as ssh-keygen -lf prints them */
  fingerprints: string[]
  insecureSkipHostKeyCheck: boolean
  jumpHost?: JumpHost
  connectTimeoutMs: number
  commandTimeoutMs: number

  // Project
  projectName: string
  wsgiModule: string
  settingsModule: string
  /** absolute, normalised, no trailing slash */
  deployPath: string
  /** absolute path of the workspace folder to upload, or null for `source: none` */
  source: string | null
  exclude: string[]
  /** path relative to the release folder */
  requirements: string
  python: string
  systemSitePackages: boolean
  /** ordered KEY=VALUE pairs */
  dotenv: Array<[string, string]>
  migrate: boolean
  collectstatic: boolean
  checkDeploy: boolean
  preRestart: string
  postDeploy: string
  keepReleases: number
  appUser: string
  workers: number | 'auto'
  gunicornArgs: string[]

  // nginx
  serverNames: string[]
  listen: { address?: string; port: number }
  staticUrl?: string
  staticRoot?: string
  mediaUrl?: string
  mediaRoot?: string
  clientMaxBodySize: string
  nginxDirectives: string
  tlsCertificate?: string
  tlsCertificateKey?: string

  // Health, GitHub, modes
  healthPath: string
  healthExpect: StatusRange[]
  healthTimeoutMs: number
  healthUrl?: string
  githubToken: string
  environment: string
  environmentUrl: string
  deployment: boolean
  dryRun: boolean
  rollback: boolean
  maxParallel: number
  /** how long a deploy waits for another one on the same host */
  lockWaitMs: number
}

// ---------------------------------------------------------------------------------------------
// Reading and validating the inputs
// ---------------------------------------------------------------------------------------------

import { existsSync, statSync } from 'node:fs'
import { isIP } from 'node:net'
import { isAbsolute, relative, resolve } from 'node:path'
import ssh2 from 'ssh2'
import { INPUT_DEFAULTS, Input } from './constants.js'

/** A bad input: names the input and says what is allowed. Raised before anything is sent. */
export class InputError extends Error {
  constructor(
    readonly input: string,
    message: string
  ) {
    super(`Input '${input}': ${printable(message)}`)
    this.name = 'InputError'
  }
}

/**
 * A message repeats the value it refuses: show its control and invisible characters (a line
 * break, U+202E that reverses the text after it) as escapes, and shorten a very long value.
 */
function printable(message: string): string {
  return message
    .replace(
      /'([^']{120,})'/g,
      (_, value: string) => `'${value.slice(0, 60)}...' (${value.length} characters)`
    )
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, (c) => {
      const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }
      return named[c] ?? `\\u${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`
    })
}

export interface ReadContext {
  /** returns the raw input value ('' when unset), like core.getInput without trimming */
  getInput: (name: string) => string
  /** the workspace the source folder is relative to */
  workspace: string
}

const MAX_LINE = 4096
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f\u0085\u2028\u2029]/u
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/
const POSIX_USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/
const PYTHON_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const DOTTED = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/
const SAFE_PATH = /^\/[A-Za-z0-9_.@+-]+(?:\/[A-Za-z0-9_.@+-]+)*$/
const SAFE_RELATIVE_PATH = /^[A-Za-z0-9_.@+-]+(?:\/[A-Za-z0-9_.@+-]+)*$/
const URL_PATH_PREFIX = /^\/(?:[A-Za-z0-9_.~-]+\/)*$/
const SYSTEM_FOLDERS = new Set(
  ['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/opt', '/proc', '/root']
    .concat(['/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var', '/var/lib', '/var/www'])
    .concat(['/usr/local', '/usr/bin', '/usr/lib', '/var/log'])
    .concat(['/lib32', '/libx32', '/mnt', '/media', '/snap', '/usr/sbin', '/usr/share', '/usr/src'])
    .concat([
      '/var/backups',
      '/var/cache',
      '/var/mail',
      '/var/opt',
      '/var/spool',
      '/var/tmp',
      '/dev/shm'
    ])
)
/** A folder the action would chown or chmod must not be one the system owns. */
function isSystemFolder(path: string): boolean {
  return SYSTEM_FOLDERS.has(path) || /^\/(?:proc|sys|dev)(?:\/|$)/.test(path)
}
const KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'ssh-dss'
])

/** Reads every input, validates it and returns the typed settings; throws InputError. */
export function readSettings(ctx: ReadContext): Settings {
  const raw = (name: Input): string => {
    const value = ctx.getInput(name)
    if (value.includes('\u0000')) throw new InputError(name, 'contains a NUL byte')
    return value.trim() === '' ? (INPUT_DEFAULTS[name] ?? '') : value
  }
  const line = (name: Input, maxLength = 256): string => {
    const value = raw(name).trim()
    if (value.length > maxLength) {
      throw new InputError(name, `is ${value.length} characters long; at most ${maxLength}`)
    }
    if (/[\r\n]/.test(value)) throw new InputError(name, 'must be a single line')
    if (CONTROL_CHARS.test(value)) throw new InputError(name, 'contains a control character')
    return value
  }
  const bool = (name: Input): boolean => parseBoolean(name, line(name))
  const int = (name: Input, min: number, max: number): number =>
    parseInteger(name, line(name), min, max)

  // Connection
  const hostText = raw(Input.Host)
  if (hostText.trim() === '') {
    throw new InputError(Input.Host, 'is required: the server to deploy to, as name or name:port')
  }
  const defaultPort = int(Input.Port, 1, 65535)
  const hosts = splitList(hostText).map((entry) => parseHostPort(Input.Host, entry, defaultPort))
  if (hosts.length > 100) throw new InputError(Input.Host, 'names more than 100 hosts')
  const username = line(Input.Username, 32)
  if (username === '') throw new InputError(Input.Username, 'is required: the SSH user name')
  if (!POSIX_USER.test(username)) {
    throw new InputError(Input.Username, 'must be a user name (letters, digits, _ . -)')
  }

  const passphrase = raw(Input.Passphrase) || undefined
  const password = raw(Input.Password) || undefined
  const privateKey = readPrivateKey(raw(Input.Key), passphrase)
  if (!privateKey && !password) {
    throw new InputError(
      Input.Key,
      'is required (or, discouraged, password): the private key text, e.g. ${{ secrets.DEPLOY_KEY }}'
    )
  }

  const knownHosts = readKnownHosts(raw(Input.KnownHosts))
  const fingerprints = readFingerprints(raw(Input.Fingerprint))
  const insecureSkipHostKeyCheck = bool(Input.InsecureSkipHostKeyCheck)
  if (!knownHosts && fingerprints.length === 0 && !insecureSkipHostKeyCheck) {
    throw new InputError(
      'known-hosts',
      'no host key is pinned: set known-hosts (the lines `ssh-keyscan <host>` prints) or fingerprint ' +
        '(SHA256:... as `ssh-keygen -lf` prints); insecure-skip-host-key-check: true is the only opt-out'
    )
  }
  const jumpText = line(Input.JumpHost)
  const jumpHost = jumpText ? parseJumpHost(jumpText, username) : undefined

  // Project
  const projectName = line(Input.ProjectName, 64)
  if (projectName === '') {
    throw new InputError(Input.ProjectName, 'is required: the Django project package, e.g. mysite')
  }
  if (!PYTHON_IDENTIFIER.test(projectName)) {
    throw new InputError(
      Input.ProjectName,
      'must be a Python package name (letters, digits and _, not starting with a digit)'
    )
  }
  const wsgiModule = line(Input.WsgiModule, 200) || `${projectName}.wsgi:application`
  if (!/^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$/.test(wsgiModule)) {
    if (!DOTTED.test(wsgiModule)) {
      throw new InputError(
        Input.WsgiModule,
        'must be module.path:variable, e.g. mysite.wsgi:application'
      )
    }
  }
  const settingsModule = line(Input.SettingsModule, 200) || `${projectName}.settings`
  if (!DOTTED.test(settingsModule)) {
    throw new InputError(Input.SettingsModule, 'must be a dotted module path, e.g. mysite.settings')
  }
  const deployText = line(Input.DeployPath) || `/srv/${projectName}`
  // '/' and '/etc/' are system folders, and the message should say so.
  const deployRoot = deployText.replace(/\/+$/, '') || '/'
  const deployPath = isSystemFolder(deployRoot)
    ? deployRoot
    : readAbsolutePath(Input.DeployPath, deployText)
  if (isSystemFolder(deployPath)) {
    throw new InputError(
      Input.DeployPath,
      `${deployPath} is a system folder; use e.g. /srv/${projectName}`
    )
  }
  // A rollback uploads nothing: the source folder is not needed (or looked at).
  const source = bool(Input.Rollback) ? null : readSource(line(Input.Source, 1024), ctx.workspace)
  const exclude = splitList(raw(Input.Exclude)).map((pattern) => {
    if (CONTROL_CHARS.test(pattern) || pattern.length > 256) {
      throw new InputError(Input.Exclude, `pattern '${pattern}' is not a glob pattern`)
    }
    return pattern
  })
  const requirements = line(Input.Requirements)
  if (!SAFE_RELATIVE_PATH.test(requirements) || requirements.split('/').includes('..')) {
    throw new InputError(
      Input.Requirements,
      'must be a path inside the source folder, e.g. requirements.txt (letters, digits, _ . - /)'
    )
  }
  const python = line(Input.Python)
  if (
    !/^python3(?:\.\d{1,2})?$/.test(python) &&
    !(SAFE_PATH.test(python) && !hasDotSegment(python))
  ) {
    throw new InputError(Input.Python, 'must be python3, python3.N or an absolute path')
  }
  const dotenv = readDotenv(raw(Input.Dotenv))

  const keepReleases = int(Input.KeepReleases, 2, 100)
  const appUser = line(Input.AppUser, 32) || projectName.toLowerCase().replace(/^_+/, '') || 'app'
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(appUser)) {
    throw new InputError(Input.AppUser, 'must be a lower-case user name (a-z, 0-9, _ and -)')
  }
  if (appUser === 'root' || appUser === username) {
    throw new InputError(
      Input.AppUser,
      `must not be ${appUser}: gunicorn runs as a user of its own that cannot change the code`
    )
  }
  const workersText = line(Input.Workers)
  const workers = workersText === 'auto' ? 'auto' : parseInteger(Input.Workers, workersText, 1, 256)

  // nginx
  const serverNames = splitList(line(Input.ServerName, 2048), /[\s,]+/)
  for (const name of serverNames) {
    if (name !== '_' && !/^(?:\*\.|\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?:\.\*)?$/.test(name)) {
      throw new InputError(
        Input.ServerName,
        `'${name}' is not a server name (a host name, *.example.com, or _ for any)`
      )
    }
  }
  if (serverNames.length === 0) serverNames.push('_')
  const listen = readListen(line(Input.Listen))
  const tlsCertificate = optionalPath(Input.TlsCertificate, line(Input.TlsCertificate))
  const tlsCertificateKey = optionalPath(Input.TlsCertificateKey, line(Input.TlsCertificateKey))
  if (!!tlsCertificate !== !!tlsCertificateKey) {
    throw new InputError(
      tlsCertificate ? Input.TlsCertificateKey : Input.TlsCertificate,
      'tls-certificate and tls-certificate-key go together: set both or neither'
    )
  }
  const firstHost = isIP(hosts[0].name) === 6 ? `[${hosts[0].name}]` : hosts[0].name
  const firstName =
    serverNames[0] === '_' || serverNames[0].includes('*') ? firstHost : serverNames[0]
  const environmentUrl =
    line(Input.EnvironmentUrl, 2048) ||
    `${tlsCertificate ? 'https' : 'http'}://${firstName.replace(/^\./, '')}`
  readUrl(Input.EnvironmentUrl, environmentUrl)

  const healthUrl = line(Input.HealthUrl, 2048) || undefined
  if (healthUrl) readUrl(Input.HealthUrl, healthUrl)
  const environment = line(Input.Environment, 255)
  if (environment === '') throw new InputError(Input.Environment, 'must not be empty')

  const hostsCount = hosts.length
  return {
    hosts,
    username,
    privateKey,
    passphrase,
    password,
    knownHosts,
    fingerprints,
    insecureSkipHostKeyCheck,
    jumpHost,
    connectTimeoutMs: int(Input.Timeout, 1, 3600) * 1000,
    commandTimeoutMs: int(Input.CommandTimeout, 1, 86400) * 1000,
    projectName,
    wsgiModule,
    settingsModule,
    deployPath,
    source,
    exclude,
    requirements,
    python,
    systemSitePackages: bool(Input.SystemSitePackages),
    dotenv,
    migrate: bool(Input.Migrate),
    collectstatic: bool(Input.Collectstatic),
    checkDeploy: bool(Input.CheckDeploy),
    preRestart: readScript(Input.PreRestart, raw(Input.PreRestart)),
    postDeploy: readScript(Input.PostDeploy, raw(Input.PostDeploy)),
    keepReleases,
    appUser,
    workers,
    gunicornArgs: readGunicornArgs(raw(Input.GunicornArgs)),
    serverNames,
    listen,
    staticUrl: optionalUrlPrefix(Input.StaticUrl, line(Input.StaticUrl)),
    staticRoot: optionalOwnedFolder(Input.StaticRoot, line(Input.StaticRoot), deployPath),
    mediaUrl: optionalUrlPrefix(Input.MediaUrl, line(Input.MediaUrl)),
    mediaRoot: optionalOwnedFolder(Input.MediaRoot, line(Input.MediaRoot), deployPath),
    clientMaxBodySize: readBodySize(line(Input.ClientMaxBodySize)),
    nginxDirectives: readNginxDirectives(raw(Input.NginxDirectives)),
    tlsCertificate,
    tlsCertificateKey,
    healthPath: readHealthPath(line(Input.HealthPath, 1024)),
    healthExpect: readStatusRanges(line(Input.HealthExpect)),
    healthTimeoutMs: int(Input.HealthTimeout, 1, 3600) * 1000,
    healthUrl,
    githubToken: readToken(raw(Input.GithubToken)),
    environment,
    environmentUrl,
    deployment: bool(Input.Deployment),
    dryRun: bool(Input.DryRun),
    rollback: bool(Input.Rollback),
    maxParallel: Math.min(int(Input.MaxParallel, 1, 100), hostsCount),
    lockWaitMs: int(Input.LockWait, 0, 86400) * 1000
  }
}

/** Values that must never appear in a log: registered with the runner by the caller. */
export function secretValues(s: Settings): string[] {
  const values = [s.privateKey, s.passphrase, s.password, s.githubToken]
  // Short dotenv values (DEBUG=0) would mask every such digit in the log; secrets are longer.
  for (const [, value] of s.dotenv) if (value.length >= 4) values.push(value)
  if (s.privateKey)
    values.push(...s.privateKey.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----')))
  return values.filter((v): v is string => !!v)
}

// ---------------------------------------------------------------------------------------------

function parseBoolean(name: string, value: string): boolean {
  if (/^(true|yes|on)$/i.test(value)) return true
  if (/^(false|no|off)$/i.test(value)) return false
  throw new InputError(name, `must be true or false, not '${value}'`)
}

function parseInteger(name: string, value: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(value))
    throw new InputError(name, `must be a whole number from ${min} to ${max}, not '${value}'`)
  const n = Number(value)
  if (n < min || n > max) throw new InputError(name, `must be from ${min} to ${max}, not ${n}`)
  return n
}

function splitList(text: string, separator: RegExp = /[\n,]+/): string[] {
  return text
    .split(separator)
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

function parseHostName(name: string, value: string): string {
  if ((isIP(value) && !value.includes('%')) || HOSTNAME.test(value)) return value
  throw new InputError(name, `'${value}' is not a host name or IP address`)
}

function parseHostPort(name: string, entry: string, defaultPort: number): HostAddress {
  if (/\s/.test(entry)) throw new InputError(name, `'${entry}' contains white space`)
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(entry)
  if (bracketed) {
    if (isIP(bracketed[1]) !== 6) throw new InputError(name, `'${entry}' is not an IPv6 address`)
    return {
      name: bracketed[1],
      port: bracketed[2] ? parseInteger(name, bracketed[2], 1, 65535) : defaultPort
    }
  }
  if (isIP(entry) === 6 && !entry.includes('%')) return { name: entry, port: defaultPort }
  const withPort = /^([^:]+):(\d+)$/.exec(entry)
  if (withPort)
    return {
      name: parseHostName(name, withPort[1]),
      port: parseInteger(name, withPort[2], 1, 65535)
    }
  if (entry.includes(':')) throw new InputError(name, `'${entry}' must be name or name:port`)
  return { name: parseHostName(name, entry), port: defaultPort }
}

function parseJumpHost(text: string, defaultUser: string): JumpHost {
  const at = text.lastIndexOf('@')
  const user = at >= 0 ? text.slice(0, at) : defaultUser
  if (!POSIX_USER.test(user)) throw new InputError(Input.JumpHost, `'${user}' is not a user name`)
  const host = parseHostPort(Input.JumpHost, text.slice(at + 1), 22)
  return { ...host, username: user }
}

function readPrivateKey(text: string, passphrase: string | undefined): string | undefined {
  let key = text.replace(/\r\n?/g, '\n').trim()
  if (key === '') return undefined
  const header = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----/.exec(key)
  if (!header) {
    if (/^(ssh-|ecdsa-)/.test(key)) {
      throw new InputError(
        Input.Key,
        'holds a public key; it needs the private key (the file without .pub)'
      )
    }
    throw new InputError(
      Input.Key,
      'has no "-----BEGIN ... PRIVATE KEY-----" line: paste the whole private key file'
    )
  }
  if (!key.includes('\n')) {
    throw new InputError(
      Input.Key,
      'was pasted without its line breaks (all on one line): paste the key file as it is, into a secret'
    )
  }
  if (!/-----END [A-Z0-9 ]*PRIVATE KEY-----$/.test(key)) {
    throw new InputError(
      Input.Key,
      'has no "-----END ... PRIVATE KEY-----" line: the key was cut short'
    )
  }
  key += '\n'
  const parsed = ssh2.utils.parseKey(key, passphrase)
  if (parsed instanceof Error) {
    const message = parsed.message
    if (/no passphrase given/i.test(message)) {
      throw new InputError(Input.Key, 'is encrypted: set passphrase (from a secret) as well')
    }
    if (passphrase && /passphrase|integrity|decrypt/i.test(message)) {
      throw new InputError(Input.Passphrase, 'does not decrypt the key (wrong passphrase?)')
    }
    throw new InputError(
      Input.Key,
      `cannot be read: ${message}. Use an OpenSSH or PEM ed25519, ecdsa or rsa key`
    )
  }
  return key
}

function readKnownHosts(text: string): string {
  const lines = text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    // Numbered before comments and blank lines are left out: the message names the line as pasted.
    .map((l, index) => ({ entry: l.trim(), index }))
    .filter(({ entry }) => entry !== '' && !entry.startsWith('#'))
  lines.forEach(({ entry, index }) => {
    const fields = entry.split(/\s+/)
    if (fields[0].startsWith('@')) fields.shift()
    const [, type, blob] = fields
    if (!type || !KEY_TYPES.has(type) || !blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) {
      throw new InputError(
        Input.KnownHosts,
        `line ${index + 1} is not a known_hosts line ("host key-type base64-key", as ssh-keyscan prints)`
      )
    }
  })
  return lines.map(({ entry }) => entry).join('\n')
}

function readFingerprints(text: string): string[] {
  const tokens = text.split(/[\s,]+/).filter((t) => t !== '')
  const fingerprints: string[] = []
  for (const token of tokens) {
    if (/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(token)) fingerprints.push(token.replace(/=$/, ''))
    // ssh-keygen -lf's other columns: bits, the host ([host]:2222, ::1) or comment, (TYPE)
    else if (!/^(?:SHA\d*|MD5):/i.test(token)) continue
    else {
      throw new InputError(
        Input.Fingerprint,
        `'${token}' is not a SHA256:... fingerprint as ssh-keygen -lf prints`
      )
    }
  }
  if (text.trim() !== '' && fingerprints.length === 0) {
    throw new InputError(
      Input.Fingerprint,
      'holds no SHA256:... fingerprint (as `ssh-keygen -lf` prints)'
    )
  }
  return fingerprints
}

function readAbsolutePath(name: string, value: string): string {
  const path = value.replace(/\/+$/, '')
  if (!SAFE_PATH.test(path) || path.split('/').some((part) => part === '..' || part === '.')) {
    throw new InputError(
      name,
      `'${value}' must be an absolute path of letters, digits and _ . - @ +, without ..`
    )
  }
  return path
}

function optionalPath(name: string, value: string): string | undefined {
  return value === '' ? undefined : readAbsolutePath(name, value)
}

/** A folder the action creates and hands to the app user (chown -R): never one the system owns. */
function optionalOwnedFolder(name: string, value: string, deployPath: string): string | undefined {
  const path = optionalPath(name, value)
  if (path === undefined) return undefined
  if (isSystemFolder(path))
    throw new InputError(
      name,
      `${path} is a system folder; the action would hand it to the app user`
    )
  if (deployPath === path || deployPath.startsWith(`${path}/`)) {
    throw new InputError(
      name,
      `${path} holds deploy-path ${deployPath}: the app user would own the releases; use a folder of its own`
    )
  }
  return path
}

function hasDotSegment(path: string): boolean {
  return path.split('/').some((part) => part === '..' || part === '.')
}

function optionalUrlPrefix(name: string, value: string): string | undefined {
  if (value === '') return undefined
  const prefix = value.endsWith('/') ? value : `${value}/`
  if (
    !URL_PATH_PREFIX.test(prefix) ||
    prefix === '/' ||
    prefix.includes('/../') ||
    prefix.includes('/./')
  ) {
    throw new InputError(
      name,
      `'${value}' must be a URL path like /static/ (letters, digits, _ . ~ -)`
    )
  }
  return prefix
}

function readSource(value: string, workspace: string): string | null {
  if (value === 'none') return null
  const folder = resolve(workspace, value)
  const inside = relative(resolve(workspace), folder)
  if (inside === '..' || inside.startsWith('../') || isAbsolute(inside)) {
    throw new InputError(
      Input.Source,
      `'${value}' is outside the workspace; use a folder of the checked-out repository, e.g. .`
    )
  }
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new InputError(
      Input.Source,
      `folder '${value}' does not exist in the workspace (${folder}); did you run actions/checkout?`
    )
  }
  if (!existsSync(`${folder}/manage.py`)) {
    throw new InputError(
      Input.Source,
      `folder '${value}' holds no manage.py: point source at the Django project's root`
    )
  }
  return isAbsolute(folder) ? folder : resolve(folder)
}

function readDotenv(text: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = []
  text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .forEach((entry, index) => {
      const trimmed = entry.trim()
      if (trimmed === '' || trimmed.startsWith('#')) return
      const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(trimmed)
      if (!match) {
        throw new InputError(
          Input.Dotenv,
          `line ${index + 1} is not KEY=VALUE (KEY of letters, digits and _)`
        )
      }
      if (match[1].length > 256)
        throw new InputError(
          Input.Dotenv,
          `line ${index + 1}: the name is longer than 256 characters`
        )
      let value = match[2]
      const quoted = /^(['"])(.*)\1$/.exec(value)
      if (quoted) value = quoted[2]
      if (CONTROL_CHARS.test(value)) {
        throw new InputError(Input.Dotenv, `the value of ${match[1]} contains a control character`)
      }
      if (value.length > MAX_LINE)
        throw new InputError(Input.Dotenv, `the value of ${match[1]} is too long`)
      pairs.push([match[1], value])
    })
  return pairs
}

function readToken(text: string): string {
  const token = text.trim()
  // It goes into an Authorization header; a message never repeats it.
  if (/[\s\u0000-\u001f\u007f]/.test(token) || token.length > 1024) {
    throw new InputError(
      Input.GithubToken,
      'must be one token (no spaces or line breaks), e.g. ${{ github.token }}'
    )
  }
  return token
}

function readScript(name: string, text: string): string {
  const script = text.replace(/\r\n?/g, '\n').trim()
  if (script.length > 65536) throw new InputError(name, 'is longer than 64 KiB')
  return script
}

const GUNICORN_OWNED_LONG = ['--bind', '--daemon', '--user', '--group', '--chdir', '--workers']
const GUNICORN_OWNED_SHORT = new Set(['b', 'D', 'u', 'g', 'w'])
/** gunicorn's short options that take no value: in a cluster like -Rw4 the next letter is an option too. */
const GUNICORN_SHORT_SWITCHES = new Set(['R', 'h', 'v'])
// `*` for --forwarded-allow-ips; the unit quotes it, and systemd has no globbing.
const GUNICORN_WORD = /^[A-Za-z0-9_.,:/=@+*-]+$/

/** An option that the action sets itself, however it is spelled (-w4, --bi 0.0.0.0:80), or undefined. */
function ownedGunicornOption(word: string): string | undefined {
  if (word.startsWith('--')) {
    const flag = word.split('=')[0]
    // gunicorn's argparse takes any unambiguous prefix of a long option: --bi is --bind.
    return flag.length > 2 && GUNICORN_OWNED_LONG.some((owned) => owned.startsWith(flag))
      ? flag
      : undefined
  }
  if (!/^-[A-Za-z]/.test(word)) return undefined
  for (const letter of word.slice(1)) {
    if (GUNICORN_OWNED_SHORT.has(letter)) return `-${letter}`
    if (!GUNICORN_SHORT_SWITCHES.has(letter)) return undefined
  }
  return undefined
}

function readGunicornArgs(text: string): string[] {
  const args = text.trim()
  if (args === '') return []
  if (/[\r\n]/.test(args)) throw new InputError(Input.GunicornArgs, 'must be a single line')
  if (args.length > 1024)
    throw new InputError(Input.GunicornArgs, `is ${args.length} characters long; at most 1024`)
  // The words go into the unit's ExecStart= line: plain words only, so no quoting, variable or
  // specifier (%h) of a shell or of systemd is ever at play.
  return args.split(/[ \t]+/).map((word) => {
    if (/[;|&<>]/.test(word)) {
      throw new InputError(Input.GunicornArgs, 'must be plain arguments (no ; | & > <)')
    }
    if (word.includes('$'))
      throw new InputError(Input.GunicornArgs, 'uses a variable ($); write the value itself')
    const bad = [...word].find((c) => !GUNICORN_WORD.test(c))
    if (bad !== undefined) {
      throw new InputError(
        Input.GunicornArgs,
        `has ${describeChar(bad)}: arguments are words of letters, digits and _ . , : / = @ + * - separated by spaces`
      )
    }
    if (/(?:^|[/=])\.\.(?:\/|$)/.test(word)) {
      throw new InputError(Input.GunicornArgs, `'${word}' leaves its folder with '..'`)
    }
    const owned = ownedGunicornOption(word)
    if (owned) {
      throw new InputError(
        Input.GunicornArgs,
        `${owned} is set by the action (socket, user, workers, folder): use the inputs workers or app-user instead`
      )
    }
    return word
  })
}

/** A character as a message can show it: printable ASCII as itself, anything else by its code. */
function describeChar(c: string): string {
  if (c === "'") return "a quote (')"
  return /^[\x21-\x7e]$/.test(c)
    ? `'${c}'`
    : `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`
}

function readListen(value: string): { address?: string; port: number } {
  if (/^\d+$/.test(value)) return { port: parseInteger(Input.Listen, value, 1, 65535) }
  const match = /^(\[[0-9A-Fa-f:]+\]|[0-9.]+|[A-Za-z0-9.-]+):(\d+)$/.exec(value)
  const address = match?.[1]
  const bare = address?.replace(/^\[|\]$/g, '')
  if (!match || !bare || !(isIP(bare) || HOSTNAME.test(bare))) {
    throw new InputError(
      Input.Listen,
      `'${value}' must be a port (80) or address:port (127.0.0.1:8080, [::1]:80)`
    )
  }
  return { address: match[1], port: parseInteger(Input.Listen, match[2], 1, 65535) }
}

function readBodySize(value: string): string {
  if (!/^\d{1,6}[kKmMgG]?$/.test(value)) {
    throw new InputError(
      Input.ClientMaxBodySize,
      `'${value}' must be a size like 10m, 512k or 0 (no limit)`
    )
  }
  return value
}

function readNginxDirectives(text: string): string {
  // Lines as the site will hold them (render/nginx.ts trims their ends), so what is checked here
  // is what nginx reads.
  const directives = text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .trim()
  if (directives === '') return ''
  if (directives.length > 65536)
    throw new InputError(Input.NginxDirectives, 'is longer than 64 KiB')
  if (CONTROL_CHARS.test(directives.replace(/\t/g, ' '))) {
    throw new InputError(Input.NginxDirectives, 'contains a control character')
  }
  // An escaped line break would read differently once the site indents the next line.
  if (/\\\n/.test(directives) || directives.endsWith('\\')) {
    throw new InputError(Input.NginxDirectives, 'has a line that ends with \\')
  }
  const problem = nginxBlockProblem(directives)
  if (problem) throw new InputError(Input.NginxDirectives, problem)
  return directives
}

/**
 * Follows the blocks as nginx's own reader (ngx_conf_read_token) does. The text goes inside our
 * server block: it may open and close blocks of its own, but must never close ours (a stray `}`
 * would let it write directives outside the site). As in nginx, a quote or `#` starts a string or
 * a comment only at the start of a word, `\` escapes the next character, and `{` `}` `;` inside
 * a word or a string are plain characters.
 */
function nginxBlockProblem(text: string): string | undefined {
  let depth = 0
  let words = 0 // words of the directive being read
  let wordStart = true
  let needSpace = false // right after a closing quote
  let escaped = false
  let quote = ''
  let comment = false
  let variable = false
  const blank = (c: string) => c === ' ' || c === '\t' || c === '\n'
  for (const c of text) {
    if (c === '\n') comment = false
    if (comment) continue
    if (escaped) {
      escaped = false
      continue
    }
    if (needSpace) {
      needSpace = false
      wordStart = true
      if (blank(c)) continue
      if (c === ';' || c === '{') {
        if (c === '{') depth++
        words = 0
        continue
      }
      // nginx refuses anything else but ')' here; `nginx -t` reports it.
    }
    if (wordStart) {
      if (blank(c)) continue
      if (c === ';' || c === '{') {
        if (words === 0) return `has a '${c}' with no directive before it`
        if (c === '{') depth++
        words = 0
        continue
      }
      if (c === '}') {
        if (words > 0) return "has a '}' after a directive that is not finished (a missing ';'?)"
        if (--depth < 0) return "has a '}' that closes more blocks than it opens"
        continue
      }
      if (c === '#') {
        comment = true
        continue
      }
      wordStart = false
      if (c === '\\') escaped = true
      else if (c === '"' || c === "'") quote = c
      else if (c === '$') variable = true
      continue
    }
    if (c === '{' && variable) continue
    variable = false
    if (c === '\\') {
      escaped = true
      continue
    }
    if (c === '$') {
      variable = true
      continue
    }
    if (quote) {
      if (c === quote) {
        quote = ''
        needSpace = true
        words++
      }
      continue
    }
    if (blank(c) || c === ';' || c === '{') {
      wordStart = true
      words++
      if (c === ';') words = 0
      if (c === '{') {
        depth++
        words = 0
      }
    }
  }
  if (quote) return 'has an unclosed quote'
  if (escaped || !wordStart || needSpace || words > 0)
    return "must end with ';' or '}' (a directive is not finished)"
  if (depth !== 0) return "has a '{' that is never closed"
  return undefined
}

function readHealthPath(value: string): string {
  // No ; $ ' ( ) *: a health check never needs them, and `%` only as an escape (%2F).
  if (
    !/^\/(?:[A-Za-z0-9._~!&+,=:@/?-]|%[0-9A-Fa-f]{2})*$/.test(value) ||
    hasDotSegment(value.split('?')[0])
  ) {
    throw new InputError(
      Input.HealthPath,
      `'${value}' must be a URL path starting with /, e.g. /healthz (letters, digits, _ . ~ - / and a ?query, no ..)`
    )
  }
  return value
}

function readStatusRanges(value: string): StatusRange[] {
  return splitList(value, /[\s,]+/).map((part) => {
    const match = /^(\d{3})(?:-(\d{3}))?$/.exec(part)
    const min = Number(match?.[1])
    const max = Number(match?.[2] ?? match?.[1])
    if (!match || min < 100 || max > 599 || min > max) {
      throw new InputError(
        Input.HealthExpect,
        `'${part}' must be a status (200) or a range (200-399), from 100 to 599`
      )
    }
    return { min, max }
  })
}

function readUrl(name: string, value: string): URL {
  if (!/^https?:\/\//i.test(value))
    throw new InputError(name, `'${value}' must be an http:// or https:// URL`)
  if (/^https?:\/\/[^/?#]*@/i.test(value))
    throw new InputError(name, 'must not hold a user name or password')
  // As typed, not as the URL parser would rewrite it: a look-alike host (Cyrillic letters become
  // xn--...), `..` (silently resolved) and quotes or `$` (kept) are mistakes or tricks.
  const bad = [...value].find((c) => !/[A-Za-z0-9._~:/?#[\]@!&+,=%-]/.test(c))
  if (bad !== undefined) {
    throw new InputError(
      name,
      `'${value}' has ${describeChar(bad)}: write the URL in ASCII, with %XX escapes`
    )
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InputError(name, `'${value}' is not a URL`)
  }
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const path = value.replace(/^https?:\/\/[^/?#]*/i, '').split(/[?#]/)[0]
  if (
    !(isIP(host) || HOSTNAME.test(host)) ||
    /%(?![0-9A-Fa-f]{2})/.test(value) ||
    hasDotSegment(path)
  ) {
    throw new InputError(name, `'${value}' is not a URL like https://example.com/path`)
  }
  if (url.username || url.password)
    throw new InputError(name, `must not hold a user name or password`)
  return url
}

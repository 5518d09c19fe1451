// nginx inputs: the site's names and address, the static and media folders it serves, its
// extra directives and TLS.

import { X509Certificate } from 'node:crypto'
import { isIP } from 'node:net'
import { Input } from '../constants.js'
import { nginxBlockProblem, normaliseDirectives } from '../grammar/nginx-directives.js'
import { appFolderProblem, type AppFolderContext } from '../grammar/paths.js'
import type { Settings } from '../settings.js'
import {
  CONTROL_CHARS,
  HOSTNAME,
  InputError,
  type InputReader,
  optionalPath,
  parseInteger,
  readUrl,
  splitList
} from './read.js'

type NginxSettings = Pick<
  Settings,
  | 'serverNames'
  | 'listen'
  | 'staticUrl'
  | 'staticRoot'
  | 'mediaUrl'
  | 'mediaRoot'
  | 'clientMaxBodySize'
  | 'nginxDirectives'
  | 'tlsCertificate'
  | 'tlsCertificateKey'
  | 'tlsListen'
  | 'hstsMaxAge'
  | 'acme'
>

const URL_PATH_PREFIX = /^\/(?:[A-Za-z0-9_.~-]+\/)*$/

/** `where` says which folders the static and media roots may be (grammar/paths.ts). */
export function readNginx(read: InputReader, where: AppFolderContext): NginxSettings {
  const serverNames = splitList(read.line(Input.ServerName, 2048), /[\s,]+/)
  for (const name of serverNames) {
    if (name !== '_' && !/^(?:\*\.|\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?:\.\*)?$/.test(name)) {
      throw new InputError(
        Input.ServerName,
        `'${name}' is not a server name (a host name, *.example.com, or _ for any)`
      )
    }
  }
  if (serverNames.length === 0) serverNames.push('_')
  const listen = readListen(read.line(Input.Listen))
  const tls = readTls(read)
  const acme = readAcme(read, serverNames, tls.tlsCertificate !== undefined)
  const tlsListen = read.int(Input.TlsListen, 1, 65535)
  if (tlsListen === listen.port && acme)
    throw new InputError(
      Input.TlsListen,
      `is ${tlsListen}, the port of listen: tls: auto needs plain HTTP for the ACME challenges`
    )
  return {
    serverNames,
    listen,
    staticUrl: optionalUrlPrefix(Input.StaticUrl, read.line(Input.StaticUrl)),
    staticRoot: optionalOwnedFolder(Input.StaticRoot, read.line(Input.StaticRoot), where),
    mediaUrl: optionalUrlPrefix(Input.MediaUrl, read.line(Input.MediaUrl)),
    mediaRoot: optionalOwnedFolder(Input.MediaRoot, read.line(Input.MediaRoot), where),
    clientMaxBodySize: readBodySize(read.line(Input.ClientMaxBodySize)),
    nginxDirectives: readNginxDirectives(read.raw(Input.NginxDirectives)),
    ...tls,
    tlsListen,
    hstsMaxAge: read.int(Input.Hsts, 0, 2 ** 31 - 1),
    acme
  }
}

const EMAIL =
  /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/
const PEM_CERTIFICATE =
  /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g

/** tls: auto: certificates from an ACME server, for names it can validate over HTTP. */
function readAcme(
  read: InputReader,
  serverNames: string[],
  hasCertificate: boolean
): Settings['acme'] {
  const mode = read.line(Input.Tls)
  const email = read.line(Input.AcmeEmail)
  const directoryText = read.line(Input.AcmeDirectory, 2048)
  const directoryCa = read.raw(Input.AcmeDirectoryCa)
  if (mode === '') {
    // Said rather than ignored: a workflow that sets them means to get a certificate.
    if (email !== '') throw new InputError(Input.AcmeEmail, 'is only used with tls: auto')
    if (directoryCa.trim() !== '')
      throw new InputError(Input.AcmeDirectoryCa, 'is only used with tls: auto')
    return undefined
  }
  if (mode !== 'auto')
    throw new InputError(
      Input.Tls,
      `'${mode}' must be auto, or empty (then tls-certificate and tls-certificate-key name the certificate)`
    )
  if (hasCertificate)
    throw new InputError(
      Input.Tls,
      'auto obtains the certificate itself: leave tls-certificate and tls-certificate-key empty'
    )
  for (const name of serverNames) {
    // HTTP-01 proves control of one name at a time, reached over DNS.
    if (name === '_' || isIP(name) || !HOSTNAME.test(name) || !name.includes('.'))
      throw new InputError(
        Input.ServerName,
        `'${name}' cannot have a certificate with tls: auto: name each domain the certificate is for ` +
          '(example.com www.example.com; no _, IP address or wildcard)'
      )
  }
  if (!EMAIL.test(email))
    throw new InputError(
      Input.AcmeEmail,
      email === ''
        ? 'is required with tls: auto (the ACME account: expiry and policy notices)'
        : `'${email}' is not an email address like admin@example.com`
    )
  const directory = readUrl(Input.AcmeDirectory, directoryText)
  if (directory.protocol !== 'https:')
    throw new InputError(
      Input.AcmeDirectory,
      `'${directoryText}' must be an https:// URL (RFC 8555 directories are served over HTTPS)`
    )
  return {
    email,
    directory: directory.href,
    directoryCa: readDirectoryCa(directoryCa)
  }
}

/** PEM certificates, each parsed: a typo is said here, not as a TLS error on the server. */
function readDirectoryCa(text: string): string | undefined {
  if (text.trim() === '') return undefined
  if (text.length > 65536) throw new InputError(Input.AcmeDirectoryCa, 'is longer than 64 KiB')
  const blocks = text.match(PEM_CERTIFICATE) ?? []
  const rest = text.replace(PEM_CERTIFICATE, '').trim()
  if (blocks.length === 0 || rest !== '')
    throw new InputError(
      Input.AcmeDirectoryCa,
      'must be PEM certificates only (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)'
    )
  for (const block of blocks) {
    try {
      new X509Certificate(block)
    } catch (error) {
      throw new InputError(
        Input.AcmeDirectoryCa,
        `holds a certificate that does not parse: ${(error as Error).message}`
      )
    }
  }
  return `${blocks.map((b) => b.replace(/\r/g, '')).join('\n')}\n`
}

function readTls(read: InputReader): Pick<Settings, 'tlsCertificate' | 'tlsCertificateKey'> {
  const tlsCertificate = optionalPath(Input.TlsCertificate, read.line(Input.TlsCertificate))
  const tlsCertificateKey = optionalPath(
    Input.TlsCertificateKey,
    read.line(Input.TlsCertificateKey)
  )
  if (!!tlsCertificate !== !!tlsCertificateKey) {
    throw new InputError(
      tlsCertificate ? Input.TlsCertificateKey : Input.TlsCertificate,
      'tls-certificate and tls-certificate-key go together: set both or neither'
    )
  }
  return { tlsCertificate, tlsCertificateKey }
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

/** A folder the action creates and hands to the app user (chown): only where it may. */
function optionalOwnedFolder(
  name: string,
  value: string,
  where: AppFolderContext
): string | undefined {
  const path = optionalPath(name, value)
  if (path === undefined) return undefined
  const problem = appFolderProblem(path, where)
  if (problem) throw new InputError(name, problem)
  return path
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
  const directives = normaliseDirectives(text)
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

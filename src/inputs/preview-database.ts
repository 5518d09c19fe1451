// The preview database inputs: preview-database-url (the admin role's URL, a secret: an error
// never repeats it), preview-database-template and preview-database-env. Read and checked with
// or without a preview; used only by one.

import { Input } from '../constants.js'
import type { PreviewDatabase } from '../settings.js'
import { previewDatabaseName, previewDatabasePassword } from '../server/preview-database.js'
import { HOSTNAME, InputError, type InputReader } from './read.js'

/** PostgreSQL's identifiers are at most 63 bytes. */
const MAX_NAME = 63
/** A database name as the template: what createdb takes without quoting, and - */
const DATABASE = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/
/** The admin's role: what a role name usually is (no quoting needed anywhere). */
const ROLE = /^[A-Za-z_][A-Za-z0-9_$.@-]{0,62}$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/
const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']

/** The preview's database, when preview-database-url is set and the run is a preview's. */
export function readPreviewDatabase(
  read: InputReader,
  at: { projectName: string; preview?: string }
): PreviewDatabase | undefined {
  const url = read.line(Input.PreviewDatabaseUrl, 2048)
  const template = read.line(Input.PreviewDatabaseTemplate, 200)
  const env = read.line(Input.PreviewDatabaseEnv, 128)
  if (!ENV_NAME.test(env))
    throw new InputError(
      Input.PreviewDatabaseEnv,
      `'${env}' is not an environment variable's name: letters, digits and _, not starting with a digit (e.g. DATABASE_URL)`
    )
  if (template && !DATABASE.test(template))
    throw new InputError(
      Input.PreviewDatabaseTemplate,
      `'${template}' is not a database name this input takes: letters, digits, _, $ and -, not starting with a digit, at most 63`
    )
  if (template && url === '')
    throw new InputError(
      Input.PreviewDatabaseTemplate,
      'needs preview-database-url (the role that copies it)'
    )
  if (url === '') return undefined
  const admin = adminConnection(url)
  if (at.preview === undefined) return undefined
  const name = previewDatabaseName(at.projectName, at.preview)
  if (name.length > MAX_NAME)
    throw new InputError(
      Input.Preview,
      `gives the preview's database a name longer than ${MAX_NAME} characters (${name}): use a shorter preview name`
    )
  // The preview's remove drops its database and role: never one the admin needs.
  for (const [what, value] of [
    ['the admin role', admin.user],
    ['the database the admin connects to', admin.database],
    ['preview-database-template', template]
  ])
    if (value.toLowerCase() === name)
      throw new InputError(
        Input.PreviewDatabaseUrl,
        `${what} is named ${name}, the name of the preview's own database and role (dropped with the preview): use another`
      )
  return {
    admin,
    adminUrl: url,
    name,
    ...(template ? { template } : {}),
    env,
    password: previewDatabasePassword(admin.password, name)
  }
}

/** libpq's connection values of the URL; an error says what is wrong without repeating it. */
function adminConnection(text: string): PreviewDatabase['admin'] {
  const fail = (what: string): never => {
    throw new InputError(
      Input.PreviewDatabaseUrl,
      `${what}: give postgres://user:password@host:port/database (from a secret), e.g. postgres://previews:…@127.0.0.1:5432/postgres`
    )
  }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return fail('is not a URL')
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    fail(`has the scheme ${url.protocol.slice(0, 20)} rather than postgres:`)
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part)
    } catch {
      return fail('has a malformed %-escape')
    }
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (host === '' || !(HOSTNAME.test(host) || /^[0-9a-fA-F:.]+$/.test(host)))
    fail('needs a host name or address (psql connects from the host over TCP)')
  const user = decode(url.username)
  const password = decode(url.password)
  const database = decode(url.pathname.replace(/^\//, '')) || 'postgres'
  if (user === '') fail("needs a user (the role that creates the previews' databases)")
  // The preview roles' passwords derive from it: without it they could be worked out.
  if (password === '') fail("needs the role's password")
  if (!ROLE.test(user)) fail('has a user name other than letters, digits, _, $, ., @ and -')
  if (!DATABASE.test(database)) fail('has a database other than letters, digits, _, $ and -')
  // Each is one line on the database steps' stdin.
  if ([user, password, database].some((v) => /[\u0000-\u001f\u007f]/.test(v)))
    fail('has a control character in its user, password or database')
  const params = [...url.searchParams.keys()]
  const unknown = params.find((key) => key !== 'sslmode')
  if (unknown) fail(`has the parameter ${unknown.slice(0, 40)}; only sslmode is read`)
  const sslmode = url.searchParams.get('sslmode') ?? undefined
  if (sslmode !== undefined && !SSLMODES.includes(sslmode))
    fail(`has sslmode ${sslmode.slice(0, 20)}; one of ${SSLMODES.join(', ')}`)
  return {
    host,
    port: url.port ? Number(url.port) : 5432,
    user,
    password,
    database,
    ...(sslmode ? { sslmode } : {})
  }
}

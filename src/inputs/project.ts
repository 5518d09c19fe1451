// Project inputs: the Django project and where it goes, what is uploaded and installed, the
// release steps, and the gunicorn service that runs it.

import { existsSync, statSync } from 'node:fs'
import { isAbsolute, relative, resolve } from 'node:path'
import { DEFAULT_EXCLUDE, Input } from '../constants.js'
import { readDependencies } from './dependencies.js'
import { parseGunicornArgs } from '../grammar/gunicorn-args.js'
import { deployPathProblem } from '../grammar/paths.js'
import type { Settings } from '../settings.js'
import {
  CONTROL_CHARS,
  hasDotSegment,
  InputError,
  type InputReader,
  parseInteger,
  readAbsolutePath,
  SAFE_PATH,
  splitList
} from './read.js'

type ProjectSettings = Pick<
  Settings,
  | 'projectName'
  | 'wsgiModule'
  | 'settingsModule'
  | 'deployPath'
  | 'source'
  | 'exclude'
  | 'requirements'
  | 'dependencies'
  | 'python'
  | 'systemSitePackages'
  | 'dotenv'
  | 'migrate'
  | 'collectstatic'
  | 'checkDeploy'
  | 'preRestart'
  | 'postDeploy'
  | 'keepReleases'
  | 'appUser'
  | 'workers'
  | 'gunicornArgs'
>

const MAX_LINE = 4096
const PYTHON_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const DOTTED = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/
/** What gunicorn serves: module.path:variable, or a dotted module (its `application`). */
export function isAppModule(text: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$/.test(text) || DOTTED.test(text)
}

/** `username` is the SSH user (the app user must be another); a rollback uploads no source. */
export function readProject(
  read: InputReader,
  given: { username: string; rollback: boolean }
): ProjectSettings {
  const modules = readModules(read)
  const service = readService(read, modules.projectName, given.username)
  return {
    ...modules,
    deployPath: readDeployPath(read, modules.projectName, service.appUser),
    ...readRelease(read, given.rollback),
    ...service,
    migrate: read.bool(Input.Migrate),
    collectstatic: read.bool(Input.Collectstatic),
    checkDeploy: read.bool(Input.CheckDeploy),
    preRestart: readScript(Input.PreRestart, read.raw(Input.PreRestart)),
    postDeploy: readScript(Input.PostDeploy, read.raw(Input.PostDeploy))
  }
}

function readModules(
  read: InputReader
): Pick<Settings, 'projectName' | 'wsgiModule' | 'settingsModule'> {
  const projectName = read.line(Input.ProjectName, 64)
  if (projectName === '') {
    throw new InputError(Input.ProjectName, 'is required: the Django project package, e.g. mysite')
  }
  if (!PYTHON_IDENTIFIER.test(projectName)) {
    throw new InputError(
      Input.ProjectName,
      'must be a Python package name (letters, digits and _, not starting with a digit)'
    )
  }
  const wsgiModule = read.line(Input.WsgiModule, 200) || `${projectName}.wsgi:application`
  if (!isAppModule(wsgiModule)) {
    throw new InputError(
      Input.WsgiModule,
      'must be module.path:variable, e.g. mysite.wsgi:application'
    )
  }
  const settingsModule = read.line(Input.SettingsModule, 200) || `${projectName}.settings`
  if (!DOTTED.test(settingsModule)) {
    throw new InputError(Input.SettingsModule, 'must be a dotted module path, e.g. mysite.settings')
  }
  return { projectName, wsgiModule, settingsModule }
}

function readDeployPath(read: InputReader, projectName: string, appUser: string): string {
  const text = read.line(Input.DeployPath) || `/srv/${projectName}`
  // '/' is not below an allowed folder either, and the message should say so.
  const deployPath = /^\/+$/.test(text) ? '/' : readAbsolutePath(Input.DeployPath, text)
  const problem = deployPathProblem(deployPath, appUser)
  if (problem) throw new InputError(Input.DeployPath, `${problem}; use e.g. /srv/${projectName}`)
  return deployPath
}

/** What a release holds: the uploaded source, and the virtualenv it installs. */
function readRelease(
  read: InputReader,
  rollback: boolean
): Pick<
  Settings,
  | 'source'
  | 'exclude'
  | 'requirements'
  | 'dependencies'
  | 'python'
  | 'systemSitePackages'
  | 'dotenv'
> {
  // A rollback uploads nothing: the source folder is not needed (or looked at).
  const source = rollback ? null : readSource(read.line(Input.Source, 1024), read.workspace)
  // The input adds to the defaults; a `!pattern` of its own may take one of them back.
  const exclude = DEFAULT_EXCLUDE.concat(
    splitList(read.raw(Input.Exclude)).map((pattern) => {
      if (CONTROL_CHARS.test(pattern) || pattern.length > 256) {
        throw new InputError(Input.Exclude, `pattern '${pattern}' is not a glob pattern`)
      }
      return pattern
    })
  )
  const python = read.line(Input.Python)
  if (
    !/^python3(?:\.\d{1,2})?$/.test(python) &&
    !(SAFE_PATH.test(python) && !hasDotSegment(python))
  ) {
    throw new InputError(Input.Python, 'must be python3, python3.N or an absolute path')
  }
  const dotenv = readDotenv(read.raw(Input.Dotenv))
  return {
    source,
    exclude,
    ...readDependencies(read, source),
    python,
    systemSitePackages: read.bool(Input.SystemSitePackages),
    dotenv
  }
}

/**
 * Accounts and groups a Debian or Ubuntu host, its cloud image or a common service already has.
 * The app user is one of its own: as one of these it would own their files and processes (nginx's
 * www-data reads every site's files), or share their group's powers (sudo, adm, docker...).
 */
const SYSTEM_ACCOUNTS = new Set(
  [
    // the base system (base-passwd) and Debian's and Ubuntu's system users
    'root daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc gnats',
    '_apt nobody nogroup messagebus syslog sshd uuidd tcpdump tss polkitd avahi dnsmasq usbmux',
    'landscape pollinate lxd operator halt shutdown ftp dbus',
    // privileged groups
    'adm sudo wheel admin staff shadow disk kmem tty users netdev plugdev input video audio',
    // services
    'nginx apache httpd postgres postgresql mysql mariadb redis memcache memcached rabbitmq',
    'mongodb elasticsearch opensearch postfix exim debian-exim ntp chrony _chrony docker',
    'containerd git certbot letsencrypt',
    // the login users of cloud images, who have sudo
    'ubuntu debian ec2-user centos fedora cloud-user azureuser opc pi vagrant'
  ]
    .join(' ')
    .split(' ')
)

export function isSystemAccount(name: string): boolean {
  return SYSTEM_ACCOUNTS.has(name) || name.startsWith('systemd-')
}

/** The gunicorn service: who runs it, how many workers, and the releases kept for it. */
function readService(
  read: InputReader,
  projectName: string,
  username: string
): Pick<Settings, 'keepReleases' | 'appUser' | 'workers' | 'gunicornArgs'> {
  const keepReleases = read.int(Input.KeepReleases, 2, 100)
  const appUser =
    read.line(Input.AppUser, 32) || projectName.toLowerCase().replace(/^_+/, '') || 'app'
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(appUser)) {
    throw new InputError(Input.AppUser, 'must be a lower-case user name (a-z, 0-9, _ and -)')
  }
  if (appUser === 'root' || appUser === username) {
    throw new InputError(
      Input.AppUser,
      `must not be ${appUser}: gunicorn runs as a user of its own that cannot change the code`
    )
  }
  if (isSystemAccount(appUser)) {
    const own = projectName.toLowerCase().replace(/^_+/, '')
    const example = own && !isSystemAccount(own) ? own : `${own || 'app'}-web`
    throw new InputError(
      Input.AppUser,
      `must not be ${appUser}: that is an account or group the host or one of its services ` +
        `already has, and the app would get what is theirs. Name a user of the app's own, which ` +
        `the action creates when it is missing (by default the project name), e.g. ${example}`
    )
  }
  const workersText = read.line(Input.Workers)
  const workers = workersText === 'auto' ? 'auto' : parseInteger(Input.Workers, workersText, 1, 256)
  const gunicorn = parseGunicornArgs(read.raw(Input.GunicornArgs))
  if (gunicorn.problem) throw new InputError(Input.GunicornArgs, gunicorn.problem)
  return { keepReleases, appUser, workers, gunicornArgs: gunicorn.words }
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

function readScript(name: string, text: string): string {
  const script = text.replace(/\r\n?/g, '\n').trim()
  if (script.length > 65536) throw new InputError(name, 'is longer than 64 KiB')
  return script
}

// provision and apt-packages: which Debian packages a deploy needs (a pure function of the
// settings), the host check's part that says which of them the host lacks, and the step that
// installs them. Root's step, over no tree the repository or the app user shapes: apt-get with
// names the grammar checked (grammar/debian-package.ts), and policy-rc.d.

import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import type { Step } from './step.js'

/**
 * The package that lets the interpreter make a venv with pip: python3-venv for Debian's python3,
 * python3.X-venv for a versioned one; none for an interpreter Debian did not install.
 */
export function venvPackage(python: string): string | undefined {
  const name = /^(?:\/usr\/bin\/)?(python3(?:\.\d+)?)$/.exec(python)?.[1]
  return name && `${name}-venv`
}

/** DATABASE_URL in dotenv names a PostgreSQL database (the backup then needs pg_dump). */
function postgresqlUrl(s: Settings): boolean {
  return s.dotenv.some(
    ([name, value]) =>
      name === 'DATABASE_URL' &&
      /^(?:postgres|postgresql|postgis|pgsql)(?:\+\w+)?:\/\//i.test(value)
  )
}

/**
 * The Debian packages the run installs when the host lacks them: with provision, what the
 * deploy runs (nginx, the venv, ss of iproute2) and what the inputs imply (certbot for tls auto,
 * the PostgreSQL client for backups of a PostgreSQL database); then apt-packages. Each once.
 */
export function neededPackages(s: Settings): string[] {
  const deploy = s.provision
    ? [
        'nginx',
        venvPackage(s.python),
        'iproute2',
        s.acme && 'certbot',
        s.backup && postgresqlUrl(s) && 'postgresql-client'
      ]
    : []
  const names = [...deploy, ...s.aptPackages].filter((p): p is string => !!p)
  return [...new Set(names)]
}

/** A deploy with packages to check: no operation (manage, logs...) installs anything. */
export function checksPackages(s: Settings): boolean {
  return s.operation.kind === 'deploy' && neededPackages(s).length > 0
}

/**
 * The host check's part: the needed packages dpkg does not call installed, in one dpkg-query,
 * as `packages-missing=` (the shell variable `packages` keeps them for the checks after it).
 */
export function missingPackagesCheck(s: Settings): ShellText {
  const names = neededPackages(s)
  return script(
    raw(
      `installed=$(dpkg-query -W -f='\${db:Status-Abbrev} \${Package}\\n' ${sh`${names}`.text} 2>/dev/null | awk '$1 == "ii" { print $2 }')`
    ),
    raw('packages=""'),
    sh`for p in ${names}; do printf '%s\n' "$installed" | grep -qxF "$p" || packages="$packages $p"; done`,
    raw('echo "packages-missing=$packages"')
  )
}

/**
 * When the host lacks packages provisioning installs, the host check stops after saying so (and
 * `facts`), where `before` (a condition, an indent) lets it.
 */
export function provisionFirst(s: Settings, before: string, facts = ''): ShellText | undefined {
  if (!s.provision) return undefined
  return raw(`${before}[ -z "$packages" ] || { ${facts}echo provision-first=yes; exit 0; }`)
}

/** What the host check said of the packages. */
export function parsePackageFacts(values: ReadonlyMap<string, string>): {
  packagesMissing?: string[]
  provisionFirst?: boolean
} {
  const said = values.get('packages-missing')
  if (said === undefined) return {}
  return {
    packagesMissing: said.split(/\s+/).filter((p) => /^[a-z0-9][a-z0-9+.-]+$/.test(p)),
    ...(values.get('provision-first') === 'yes' ? { provisionFirst: true } : {})
  }
}

const POLICY = '/usr/sbin/policy-rc.d'
/** Marks the policy-rc.d this step writes, so that one a killed run left is known and removed. */
const POLICY_MARK = '# django-deploy-action: no service starts while packages are installed'

/**
 * Installs `packages`: the lists refreshed first (only a run with something to install gets
 * here), then apt-get install, non-interactive, without recommends, waiting up to lock-wait for
 * apt's lock (unattended-upgrades). No service a package brings is started by its install: the
 * deploy starts nginx itself once its site is in place.
 */
export function installStep(s: Settings, packages: readonly string[]): Step {
  const wait = String(Math.round(s.lockWaitMs / 1000))
  return {
    id: 'install-packages',
    phase: 'connect',
    title: `Install the Debian packages ${packages.join(' ')}`,
    privileged: true,
    command: script(
      raw('set -u'),
      raw('export DEBIAN_FRONTEND=noninteractive'),
      sh`policy=${POLICY} mark=${POLICY_MARK}`,
      raw('if [ -e "$policy" ] && grep -qxF "$mark" "$policy"; then rm -f "$policy"; fi'),
      // An administrator's own policy-rc.d decides as it did; else ours, removed however the
      // step ends.
      raw('if [ ! -e "$policy" ]; then'),
      raw("  trap 'rm -f \"$policy\"' EXIT; trap 'exit 1' HUP INT TERM"),
      // Only the services named as the packages being installed are held back (nginx): another
      // apt run meanwhile (unattended-upgrades) still restarts what it upgrades.
      sh`  services=${packages.join('|')}`,
      raw(
        '  printf \'#!/bin/sh\\n%s\\ncase "%s" in %s) exit 101;; esac\\nexit 0\\n\' "$mark" "\\$1" "$services" >"$policy" && chmod 755 "$policy"'
      ),
      raw('fi'),
      sh`apt-get -q -o DPkg::Lock::Timeout=${wait} update || exit $?`,
      // A name apt would read as a pattern (or as another package) installs nothing: each must be
      // a package of exactly that name.
      sh`for name in ${packages}; do`,
      raw(
        '  apt-cache show --no-all-versions -- "$name" 2>/dev/null | grep -qxF "Package: $name" || { echo "E: Unable to locate package $name" >&2; exit 100; }'
      ),
      raw('done'),
      sh`apt-get -q -o DPkg::Lock::Timeout=${wait} install -y --no-install-recommends ${packages} || exit $?`,
      sh`printf 'installed=%s\n' ${packages.join(' ')}`
    )
  }
}

/**
 * What apt said when the install failed: its errors (`E:` lines) first, then who held its lock
 * (its last `Waiting for cache lock` line: the process, unattended-upgrades...), then its
 * warnings, as it wrote them; the last lines when it said none of these.
 */
export function aptProblem(output: string): string {
  const lines = output.split('\n').map((l) => l.trimEnd())
  const errors = lines.filter((l) => l.startsWith('E: '))
  const holder = lines.filter((l) => l.startsWith('Waiting for cache lock: ')).slice(-1)
  const warnings = lines.filter((l) => l.startsWith('W: '))
  const said = [...errors, ...holder, ...warnings]
  return (said.length > 0 ? said : lines.filter((l) => l !== '').slice(-5)).join('\n')
}

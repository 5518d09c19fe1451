// The first step of every run: what the host has and what it serves. Read-only.

import { pythonFile } from './python.js'
import { PIP_WHEEL_PY } from './release.js'
import { Buffer } from 'node:buffer'
import type { Settings } from '../settings.js'
import { inspectAcme, parseAcmeFacts } from './acme.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import type { HostFacts } from './facts.js'
import { LEGACY_FAILED_MARK, layout, RELEASE_ID_LINE, socketPath } from './layout.js'
import { listProcessUnits } from './processes.js'
import { listPreviews, parsePreviews } from './previews.js'
import { projectSettings, settingsObject, type ProjectSettings } from './discover.js'
import type { Step } from './step.js'
import {
  checksPackages,
  missingPackagesCheck,
  parsePackageFacts,
  provisionFirst
} from './provision.js'

/**
 * The interpreter's version and real path; then it fails unless it can make a venv with pip.
 * The modules are found, not imported (python/interpreter.py).
 */
export const INTERPRETER_PY = pythonFile(new URL('./python/interpreter.py', import.meta.url))

/**
 * The server's Python as a lock sees it: PEP 508's marker variables and the wheel tags pip
 * accepts, from the pip wheel the venv's pip runs from (python/server_python.py).
 */
export const SERVER_PYTHON_PY = pythonFile(new URL('./python/server_python.py', import.meta.url))

// ls lists folders below the deploy path that only root writes, whose names root chose (release
// ids and files named after them): no name holds a line break or anything ls would mangle.
const ROOTS_NAMES = "ls: root's folder, names root chose (no line break in any)"

/**
 * A dry run of a lock: the live venv's packages, for the changes the deploy would make. Listed by
 * the app user (whose build made those folders: root follows no link of theirs), names only.
 */
function livePackages(s: Settings): ShellText {
  const site = `${layout(s).current}/.venv/lib/python*/site-packages`
  const list = `for d in ${site}/*.dist-info; do [ -d "$d" ] && basename "$d" .dist-info; done`
  return sh`id -u -- ${s.appUser} >/dev/null 2>&1 && echo "live-packages=$(runuser -u ${s.appUser} -- sh -c ${list} 2>/dev/null | tr '\n' ' ')"`
}

/** `name==version` of each `<name>-<version>` the live venv holds (other names are no package's). */
export function parseLivePackages(entries: string[]): string[] {
  return entries.flatMap((entry) => {
    const m = /^([A-Za-z0-9_.]+)-([A-Za-z0-9_.+!]+)$/.exec(entry)
    return m ? [`${m[1]}==${m[2]}`] : []
  })
}

/** provision with tls: auto: a host without certbot is checked again once the flow installed it. */
function certbotFirst(s: Settings): ShellText | undefined | false {
  return checksPackages(s) && provisionFirst(s, 'command -v certbot >/dev/null 2>&1 || ')
}

export function inspectStep(s: Settings): Step {
  const p = layout(s)
  return {
    id: 'inspect',
    phase: 'connect',
    title: 'Check the host (nginx, systemd, python, sudo)',
    privileged: true,
    command: script(
      raw('set -u'),
      // provision, apt-packages: what the host lacks of them. With provision, a host that lacks
      // some says only that (provision-first): the flow installs them, then checks it again.
      checksPackages(s) && missingPackagesCheck(s),
      raw('missing=""'),
      sh`for tool in nginx systemctl systemd-analyze runuser ${s.python}; do command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; done`,
      checksPackages(s) && provisionFirst(s, '[ -z "$missing" ] || '),
      raw('if [ -n "$missing" ]; then echo "missing on the host:$missing" >&2; exit 3; fi'),
      // One interpreter start: its version and path, then whether it can make a venv.
      sh`if ! python=$(${s.python} -I -S -c ${INTERPRETER_PY} 2>/dev/null); then`,
      checksPackages(s) && provisionFirst(s, '  ', 'echo "python=$python"; '),
      raw(
        '  package=python3-venv; [ -z "$python" ] || package="python$(echo "$python" | cut -d. -f1,2)-venv"'
      ),
      sh`  printf '%s cannot create a venv: install the package %s (Debian/Ubuntu: apt-get install %s)\n' ${s.python} "$package" "$package" >&2`,
      raw('  exit 4'),
      raw('fi'),
      raw('echo "cpus=$(nproc)"'),
      // Only for a lock: two interpreter starts more.
      s.dependencies.lock
        ? script(
            raw(`# shellcheck disable=SC2012 # ${ROOTS_NAMES}`),
            // Complete as root marked it: root's folder and mark, no link (the app cannot fake one).
            sh`echo "venvs=$(cd ${p.venvs} 2>/dev/null && for v in *; do [ ! -L "$v" ] && [ ! -L "$v/.complete" ] && [ -f "$v/.complete" ] && [ "$(stat -c %u "$v" "$v/.complete" | sort -u)" = 0 ] && printf '%s ' "$v"; done)"`,
            sh`wheel=$(${s.python} -I -c ${PIP_WHEEL_PY} 2>/dev/null || true)`,
            sh`[ -z "$wheel" ] || echo "server-python=$(${s.python} -I -c ${SERVER_PYTHON_PY} "$wheel" 2>/dev/null)"`,
            s.dryRun ? livePackages(s) : undefined
          )
        : undefined,
      raw('echo "python=$python"'),
      sh`live=$(basename "$(readlink ${p.current} 2>/dev/null)" 2>/dev/null); echo "live=$live"`,
      sh`[ -z "$live" ] || echo "deployed=$(head -c 64 ${p.deployed}/"$live" 2>/dev/null)"`,
      sh`[ -z "$live" ] || echo "settings=$(sed -n 2p ${p.deployed}/"$live" 2>/dev/null | head -c 65536)"`,
      // A link to an instance's socket, or the socket of an earlier version's single instance.
      sh`sock=${socketPath(s.instanceName)} legacy=${p.legacyUnits.socket}`,
      raw(
        'if [ -L "$sock" ]; then to=$(readlink "$sock"); to=${to##*@}; echo "instance=${to%.sock}"; elif [ -S "$sock" ] || [ -e "$legacy" ]; then echo instance=legacy; else echo instance=; fi'
      ),
      // Only releases: a dry run's staged upload is none (layout.ts stagedRelease).
      raw(`# shellcheck disable=SC2010 # ${ROOTS_NAMES}`),
      sh`echo "releases=$(ls -1 ${p.releases} 2>/dev/null | grep -xE ${RELEASE_ID_LINE} | sort -r | tr '\n' ' ')"`,
      raw(`# shellcheck disable=SC2012 # ${ROOTS_NAMES}`),
      sh`echo "served=$(ls -1 ${p.served} 2>/dev/null | tr '\n' ' ')"`,
      raw(`# shellcheck disable=SC2012 # ${ROOTS_NAMES}`),
      sh`echo "migrated=$(ls -1 ${p.migrated} 2>/dev/null | tr '\n' ' ')"`,
      raw(`# shellcheck disable=SC2012 # ${ROOTS_NAMES}`),
      sh`echo "backups=$(ls -1 ${p.backups} 2>/dev/null | tr '\n' ' ')"`,
      raw(`# shellcheck disable=SC2012 # ${ROOTS_NAMES}`),
      sh`echo "failed=$(ls -1 ${p.failed} 2>/dev/null | tr '\n' ' ') $(cd ${p.releases} 2>/dev/null && for r in *; do [ -f "$r"/${LEGACY_FAILED_MARK} ] && printf '%s ' "$r"; done)"`,
      // Said only of root's own folder: one an earlier version handed to the app says nothing.
      sh`[ ! -e ${p.maintenance.flag} ] || [ "$(stat -c %u ${p.maintenance.folder})" != 0 ] || echo maintenance=on`,
      listProcessUnits(s),
      ...(s.preview ? [listPreviews(s)] : []),
      ...(s.acme ? [certbotFirst(s), ...inspectAcme(s)] : [])
    )
  }
}

export function parseFacts(stdout: string): HostFacts {
  const values = new Map<string, string>()
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=')
    if (at > 0) values.set(line.slice(0, at), line.slice(at + 1).trim())
  }
  const list = (key: string) =>
    (values.get(key) ?? '').split(/\s+/).filter((r) => /^[\w.-]+$/.test(r))
  const live = values.get('live') ?? ''
  return {
    cpus: Number(values.get('cpus')) || 1,
    live: /^[\w.-]+$/.test(live) && live !== '.' ? live : '',
    releases: list('releases'),
    failed: list('failed'),
    served: list('served'),
    python: values.get('python') ?? '',
    processUnits: list('process-units').filter((u) => /\.(service|timer)$/.test(u)),
    instance:
      (['blue', 'green', 'legacy'] as const).find((i) => i === values.get('instance')) ?? '',
    migrated: list('migrated'),
    backups: list('backups'),
    deployed: /^[0-9a-f]{64}$/.test(values.get('deployed') ?? '')
      ? values.get('deployed')
      : undefined,
    projectSettings: recordedSettings(values.get('settings') ?? ''),
    maintenance: values.get('maintenance') === 'on',
    ...serverPython(values.get('server-python') ?? ''),
    ...(values.has('venvs') ? { venvs: list('venvs') } : {}),
    ...(values.has('live-packages')
      ? { livePackages: parseLivePackages(list('live-packages')) }
      : {}),
    ...parsePreviews(values),
    ...parsePackageFacts(values),
    ...parseAcmeFacts(values)
  }
}

/**
 * What python/server_python.py printed, one line of JSON: the markers, and the tags as runs of
 * one interpreter-abi over a list of platforms, expanded here in their order ({} when there is
 * none, or it is not that).
 */
function serverPython(json: string): Pick<HostFacts, 'serverPython'> {
  try {
    const read = JSON.parse(json) as { markers?: unknown; platforms?: unknown; tags?: unknown }
    const { markers, platforms, tags } = read as {
      markers: Record<string, unknown>
      platforms: unknown[][]
      tags: Array<[unknown, unknown]>
    }
    const strings = (values: unknown[]) => values.every((v) => typeof v === 'string')
    if (typeof markers !== 'object' || markers === null || !strings(Object.values(markers)))
      return {}
    if (!Array.isArray(platforms) || !platforms.every((p) => Array.isArray(p) && strings(p)))
      return {}
    if (!Array.isArray(tags)) return {}
    const expanded: string[] = []
    for (const run of tags) {
      const list = Array.isArray(run) ? platforms[run[1] as number] : undefined
      if (typeof run[0] !== 'string' || !list) return {}
      expanded.push(...list.map((platform) => `${run[0] as string}-${platform as string}`))
    }
    return { serverPython: { markers: markers as Record<string, string>, tags: expanded } }
  } catch {
    return {}
  }
}

/** The settings recorded with the deploy key: base64 of the JSON the Django process printed. */
function recordedSettings(base64: string): ProjectSettings | undefined {
  const printed = /^[A-Za-z0-9+/]+=*$/.test(base64)
    ? settingsObject(Buffer.from(base64, 'base64').toString('utf8'))
    : undefined
  return printed && projectSettings(printed)
}

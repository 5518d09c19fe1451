// The configuration the action owns (gunicorn's units, the nginx site): rendered, verified,
// installed behind the `nginx -t` gate, put back when a gate or the new release fails.

import { Buffer } from 'node:buffer'
import { createTwoFilesPatch } from 'diff'
import { instanceRoot, renderService, renderSocket } from '../render/gunicorn.js'
import { renderSite, type SitePaths } from '../render/nginx.js'
import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import { renewalFiles, siteTls } from './acme.js'
import type { HostFacts } from './facts.js'
import { GATE_FAILED } from './step-script.js'
import { baseName, DEFAULT_SITE, DEFAULT_SITE_LINK, layout, unitNames } from './layout.js'
import type { Step } from './step.js'

export interface ConfigFile {
  path: string
  text: string
}

/** The files the action owns on the host, with their full paths. */
export interface ConfigFiles {
  socket: ConfigFile
  service: ConfigFile
  site: ConfigFile
  /** tls: auto: certbot's renewal timer */
  renewalService?: ConfigFile
  renewalTimer?: ConfigFile
}

export function workerCount(s: Settings, facts: HostFacts): number {
  return s.workers === 'auto' ? Math.min(2 * Math.max(facts.cpus, 1) + 1, 17) : s.workers
}

/** `writable`: the folders the app writes besides shared/ (a MEDIA_ROOT elsewhere, writable-paths). */
export function configFiles(
  s: Settings,
  facts: HostFacts,
  site: SitePaths,
  writable: readonly string[] = []
): ConfigFiles {
  const p = layout(s)
  return {
    socket: { path: p.units.socket, text: renderSocket(s) },
    service: {
      path: p.units.service,
      text: renderService(s, { appRoot: instanceRoot(s), workers: workerCount(s, facts), writable })
    },
    site: { path: p.site, text: renderSite(s, site, siteTls(s, facts)) },
    ...(s.acme ? renewalFiles(s) : {})
  }
}

export const allFiles = (files: ConfigFiles): ConfigFile[] =>
  [files.socket, files.service, files.site, files.renewalService, files.renewalTimer].filter(
    (f): f is ConfigFile => f !== undefined
  )

function writeFile(path: string, text: string): ShellText {
  // base64 keeps any byte of the rendered text out of the shell's reach.
  return sh`printf %s ${Buffer.from(text).toString('base64')} | base64 -d > ${path}`
}

/** Gate 1: systemd-analyze verify on the new units, rendered to run the new release directly. */
export function verifyUnitsStep(s: Settings, id: string, files: ConfigFiles): Step {
  const p = layout(s)
  // The templates, verified as an instance running the new release.
  const units = unitNames(s.instanceName).instance('blue')
  const service = files.service.text.split(instanceRoot(s)).join(p.release(id))
  return {
    id: 'verify-units',
    phase: 'gates',
    title: 'systemd-analyze verify',
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`rm -rf ${p.verify} && mkdir -p ${p.verify}`,
      writeFile(`${p.verify}/${units.socket}`, files.socket.text),
      writeFile(`${p.verify}/${units.service}`, service),
      sh`if ! out=$(systemd-analyze verify ${p.verify}/${units.socket} ${p.verify}/${units.service} 2>&1); then`,
      raw('  printf "%s\\n" "$out" >&2'),
      raw(`  exit ${GATE_FAILED}`),
      raw('fi'),
      // Warnings about other units on the host are not ours to fail on; show ours.
      sh`printf '%s\n' "$out" | grep -F ${units.service.replace(/\.service$/, '')} || true`
    )
  }
}

/** Shell that puts the files saved by `installConfigStep` back (used by the gate and rollback). */
export function restoreConfig(s: Settings, files: ConfigFiles): ShellText {
  const p = layout(s)
  return script(
    ...allFiles(files).map(({ path }) => {
      const saved = `${p.backup}/${baseName(path)}`
      return sh`if [ -e ${saved} ]; then cp -p ${saved} ${path}.new && mv -f ${path}.new ${path}; elif [ -e ${saved}.absent ]; then rm -f ${path}; fi`
    }),
    sh`if [ -e ${p.backup}/site-link.absent ]; then rm -f ${p.siteLink}; fi`,
    sh`if [ -e ${p.backup}/default-link ]; then ln -sfn ${DEFAULT_SITE} ${DEFAULT_SITE_LINK}; fi`
  )
}

/**
 * Gate 2: save the live files, put the new ones in place, run `nginx -t`, and put the live ones
 * back whatever it says: until the switch nothing new is where nginx or systemd would read it
 * (a reload by anyone else, a reboot, a run cut short). The new files wait in <state>/staged.
 * Prints `changed=` and the names of the files that differ from the live ones, and leaves them in
 * <state>/changed for the switch.
 */
export function installConfigStep(s: Settings, files: ConfigFiles): Step {
  const p = layout(s)
  const catchAll = s.serverNames.length === 1 && s.serverNames[0] === '_'
  return {
    id: 'nginx-t',
    phase: 'gates',
    title: 'nginx -t with the new site',
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`rm -rf ${p.backup} ${p.staged} ${p.changed} && mkdir -p ${p.backup} ${p.staged}`,
      ...allFiles(files).map(({ path }) => {
        const saved = `${p.backup}/${baseName(path)}`
        return sh`if [ -e ${path} ]; then cp -p ${path} ${saved}; else : > ${saved}.absent; fi`
      }),
      sh`[ -L ${p.siteLink} ] || : > ${p.backup}/site-link.absent`,
      sh`restore() {`,
      restoreConfig(s, files),
      raw('}'),
      sh`changed=""`,
      ...allFiles(files).map(({ path, text }) =>
        script(
          writeFile(`${p.staged}/${baseName(path)}`, text),
          sh`chmod 644 ${p.staged}/${baseName(path)}`,
          // The name quoted outside the double quotes: inside them, its backslashes would stay.
          sh`if ! cmp -s ${p.staged}/${baseName(path)} ${path}; then changed="$changed "${baseName(path)}; fi`,
          sh`cp -p ${p.staged}/${baseName(path)} ${path}.new && mv -f ${path}.new ${path}`
        )
      ),
      sh`ln -sfn ${files.site.path} ${p.siteLink}`,
      // Debian's welcome site is also a default server: the catch-all `_` takes its place.
      catchAll
        ? sh`if [ -L ${DEFAULT_SITE_LINK} ]; then rm -f ${DEFAULT_SITE_LINK}; : > ${p.backup}/default-link; changed="$changed default-site"; fi`
        : undefined,
      raw('if ! out=$(nginx -t 2>&1); then'),
      raw('  restore'),
      raw('  printf "%s\\n" "$out" >&2'),
      raw(`  exit ${GATE_FAILED}`),
      raw('fi'),
      raw('restore'),
      // One file name per word: the action's own files, whose names hold no glob character.
      raw('# shellcheck disable=SC2086 # $changed splits into the names of the files that changed'),
      sh`printf '%s\n' $changed > ${p.changed}`,
      raw('echo "changed=$changed"')
    )
  }
}

/**
 * Shell that puts the files the gate tested in place (the switch's first act): each renamed over
 * the live one, the site enabled, Debian's welcome site disabled for a catch-all.
 */
export function installStaged(
  s: Settings,
  files: ConfigFiles,
  only?: ReadonlyArray<keyof ConfigFiles>
): ShellText {
  const p = layout(s)
  const catchAll = s.serverNames.length === 1 && s.serverNames[0] === '_'
  const chosen = only ? only.flatMap((name) => (files[name] ? [files[name]] : [])) : allFiles(files)
  const site = chosen.includes(files.site)
  return script(
    // An identical file is left as it is: systemd would call a new copy changed (by its time).
    ...chosen.map(
      ({ path }) =>
        sh`cmp -s ${p.staged}/${baseName(path)} ${path} || { cp -p ${p.staged}/${baseName(path)} ${path}.new && mv -f ${path}.new ${path}; }`
    ),
    site ? sh`ln -sfn ${files.site.path} ${p.siteLink}` : undefined,
    site && catchAll ? sh`rm -f ${DEFAULT_SITE_LINK}` : undefined
  )
}

/** Which of the action's files the install changed, by name (`gunicorn-mysite.socket`, ...). */
export function parseChanged(stdout: string): string[] {
  return (/^changed=(.*)$/m.exec(stdout)?.[1] ?? '').split(' ').filter((name) => name !== '')
}

/** Reads the live files for the dry run's diff; a missing file prints a marker. */
export function readConfigStep(files: ConfigFiles): Step {
  return {
    id: 'read-config',
    phase: 'gates',
    title: 'Read the live units and site',
    privileged: true,
    command: script(
      ...allFiles(files).map(
        ({ path }) =>
          sh`echo ${`=== ${path}`}; if [ -e ${path} ]; then base64 -w0 < ${path}; fi; echo`
      )
    )
  }
}

export function parseConfigFiles(stdout: string): Map<string, string | undefined> {
  const found = new Map<string, string | undefined>()
  const lines = stdout.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('=== ')) continue
    const body = lines[i + 1] ?? ''
    found.set(lines[i].slice(4), body === '' ? undefined : Buffer.from(body, 'base64').toString())
  }
  return found
}

/** The dry run's diff: each file against the live one, or `unchanged`. */
export function configDiff(files: ConfigFiles, live: Map<string, string | undefined>): string {
  return allFiles(files)
    .map(({ path, text }) => {
      const before = live.get(path)
      if (before === text) return `${path}: unchanged`
      return createTwoFilesPatch(
        before === undefined ? '/dev/null' : path,
        path,
        before ?? '',
        text,
        'on the server',
        'this deploy'
      )
    })
    .join('\n')
}

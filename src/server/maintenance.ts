// The maintenance switch, as steps (data): the page and the allowed addresses written into root's
// maintenance folder, then the flag nginx tests on every request (render/nginx.ts); off removes
// the flag. No reload either way, and the state outlives a reboot.

import { Buffer } from 'node:buffer'
import { MAINTENANCE_MARK } from '../render/nginx.js'
import type { Settings } from '../settings.js'
import { raw, script, sh } from '../shell.js'
import { layout } from './layout.js'
import type { Step } from './step.js'

/** The page when maintenance-page names none: plain, no outside resource. */
export const DEFAULT_MAINTENANCE_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Down for maintenance</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 4em auto; padding: 0 1em">
<h1>Down for maintenance</h1>
<p>The site is being updated and will be back shortly. Please try again in a few minutes.</p>
</body>
</html>
`

/** The exit status of a switch on a host whose site cannot be switched (the message says why). */
export const NO_SWITCH = 3

/** What the switch steps print last: the state they left. */
export const STATE_MARK = 'maintenance='

/**
 * Maintenance on: the site must have the switch (a deploy by this version renders it); the page
 * and the allowed addresses are written first, the flag last, so the first 503 has its page.
 */
export function maintenanceOnStep(s: Settings): Step {
  const p = layout(s)
  const m = p.maintenance
  const page = Buffer.from(s.maintenancePage ?? DEFAULT_MAINTENANCE_PAGE).toString('base64')
  return {
    id: 'maintenance-on',
    phase: 'restart',
    title: `Maintenance on: the site answers 503 with the page${allowedTitle(s)}`,
    privileged: true,
    command: script(
      raw('set -eu'),
      raw('umask 022'),
      siteCheck(s),
      ...[m.folder, m.allow].flatMap((folder) => [
        rootsFolder(folder),
        sh`mkdir -p -m 755 ${folder}`
      ]),
      // New names, renamed over the old: a link left there is replaced, never written through.
      sh`rm -f ${m.folder}/.page.new ${m.folder}/.on.new`,
      sh`printf %s ${page} | base64 -d > ${m.folder}/.page.new`,
      sh`mv -f ${m.folder}/.page.new ${m.page}`,
      sh`find ${m.allow} -mindepth 1 -maxdepth 1 -delete`,
      ...s.maintenanceAllow.map((address) => sh`: > ${`${m.allow}/${address}`}`),
      sh`: > ${m.folder}/.on.new`,
      sh`mv -f ${m.folder}/.on.new ${m.flag}`,
      sh`echo ${`${STATE_MARK}on`}`
    )
  }
}

/** Maintenance off: the flag goes; the page and the addresses stay for the next time. */
export function maintenanceOffStep(s: Settings): Step {
  return {
    id: 'maintenance-off',
    phase: 'restart',
    title: 'Maintenance off: the site serves the app again',
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`rm -f ${layout(s).maintenance.flag}`,
      sh`echo ${`${STATE_MARK}off`}`
    )
  }
}

function allowedTitle(s: Settings): string {
  return s.maintenanceAllow.length > 0 ? ` (but to ${s.maintenanceAllow.join(', ')})` : ''
}

/** The site is there and has the switch; else the step fails saying what to do. */
function siteCheck(s: Settings) {
  const site = layout(s).site
  return script(
    sh`if [ ! -f ${site} ]; then`,
    sh`  echo ${`${site} is missing: nothing of ${s.instanceName} is served here; deploy first`} >&2`,
    sh`  exit ${NO_SWITCH}`,
    raw('fi'),
    sh`if ! grep -qF ${MAINTENANCE_MARK} ${site}; then`,
    sh`  echo ${`${site} was written by an earlier version, without the maintenance switch: deploy once with this version, then switch`} >&2`,
    sh`  exit ${NO_SWITCH}`,
    raw('fi')
  )
}

/**
 * The folder is missing, or root's own, not a link, writable by root alone: root then writes in it
 * by name with nobody able to change what a name is (a folder an earlier writable-paths handed to
 * the app is refused, never written through).
 */
function rootsFolder(folder: string) {
  return script(
    sh`if [ -L ${folder} ] || { [ -e ${folder} ] && { [ ! -d ${folder} ] || [ "$(stat -c %u ${folder})" != 0 ] || [ -n "$(find ${folder} -maxdepth 0 -perm /022)" ]; }; }; then`,
    sh`  echo ${`${folder} is not root's own folder (a link, or another user may write it): remove it, then switch again`} >&2`,
    sh`  exit ${NO_SWITCH}`,
    raw('fi')
  )
}

/** The state a switch step left, from its output; undefined when it did not say. */
export function parseMaintenanceState(stdout: string): 'on' | 'off' | undefined {
  const line = stdout
    .split('\n')
    .filter((l) => l.startsWith(STATE_MARK))
    .pop()
  const state = line?.slice(STATE_MARK.length).trim()
  return state === 'on' || state === 'off' ? state : undefined
}

// Everything the repository's code does on the server runs here: as the app user, never root,
// in a transient systemd unit with the sandbox below. systemd reads the .env file as data (no
// shell sources it), the unit's processes end with it, and the lock's holder stops whatever a
// killed run left (server/lock.ts).

import { Buffer } from 'node:buffer'
import { HARDENING } from '../render/gunicorn.js'
import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import { layout } from './layout.js'

/**
 * What the web unit has that the build and Django steps cannot: compilers, pip and management
 * commands may need W^X memory and privileged system calls; the venv is read by everyone once
 * root has it (UMask 0022); and RemoveIPC would remove the live app's IPC objects (same user).
 */
const NOT_FOR_STEPS =
  /^(ReadWritePaths=|MemoryDenyWriteExecute=|SystemCallFilter=~|SystemCallFilter=setuid|AmbientCapabilities=|UMask=|RemoveIPC=)/

/**
 * The sandbox of the build and Django steps: the web unit's (render/gunicorn.ts HARDENING), less
 * NOT_FOR_STEPS, writing only `writable`. Exposure 1.5 in `systemd-analyze security`
 * (test/e2e/privilege.test.ts).
 */
export function sandboxProperties(s: Settings, writable: readonly string[]): string[] {
  return [
    ...HARDENING.map((d) => (typeof d === 'string' ? d : d(s))).filter(
      (line) => !NOT_FOR_STEPS.test(line)
    ),
    ...writable.map((path) => `ReadWritePaths=${path}`),
    'UMask=0022'
  ]
}

/**
 * The prefix of every transient unit of a project, so a lock holder can stop them all
 * (`<prefix>-*`). A project name has no `-` (a Python identifier), so the `-` after it ends it:
 * shop's pattern never matches a unit of shop_api's. A preview's is `dda-<project>.<name>` with
 * its `-` written `_`: neither production's pattern nor another preview's (pr-1's, of pr-1-2's)
 * matches its units.
 */
export function unitPrefix(s: Pick<Settings, 'projectName' | 'preview'>): string {
  return s.preview
    ? `dda-${s.projectName}.${s.preview.name.replaceAll('-', '_')}`
    : `dda-${s.projectName}`
}

export interface AppCommand {
  /** a short name of the step, part of the unit's name */
  name: string
  /** the folder it runs in */
  cwd: string
  /** the folders it may write */
  writable: readonly string[]
  /** the release whose venv is first on PATH */
  release?: string
  /**
   * commands of the calling (root) shell whose output leads the script on its way to the unit:
   * a value the unit needs that may be on no command line, in no unit property and in no file
   */
  prelude?: ShellText
}

/**
 * Runs `command` (shell) as the app user in the sandbox, with the .env and the settings module
 * in its environment. The script goes on stdin, so no text of it is on a command line.
 */
export function asApp(s: Settings, run: AppCommand, command: ShellText): ShellText {
  const p = layout(s)
  const path = [
    run.release ? `${p.release(run.release)}/.venv/bin` : '',
    '/usr/local/bin:/usr/bin:/bin'
  ]
  const properties = [
    `WorkingDirectory=${run.cwd}`,
    `EnvironmentFile=-${p.env}`,
    `Environment=DJANGO_SETTINGS_MODULE=${s.settingsModule}`,
    `Environment=PATH=${path.filter(Boolean).join(':')}`,
    'Environment=PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1',
    `RuntimeMaxSec=${Math.ceil(s.commandTimeoutMs / 1000)}`,
    ...sandboxProperties(s, run.writable)
  ]
  const body = script(raw('set -eu'), command).text
  const text = sh`printf %s ${Buffer.from(body).toString('base64')} | base64 -d`
  const piped = run.prelude ? sh`{ ${run.prelude}; ${text}; }` : text
  return sh`${piped} | systemd-run --quiet --pipe --wait --collect --service-type=exec --unit=${`${unitPrefix(s)}-${run.name}`}-"$$" --uid=${s.appUser} --gid=${s.appUser} ${properties.flatMap((prop) => ['-p', prop])} -- /bin/sh -s`
}

/** Runs a management command (or the user's shell) as the app user, in the release. */
export function inRelease(
  s: Settings,
  id: string,
  name: string,
  writable: string[],
  command: ShellText
): ShellText {
  return asApp(s, { name, cwd: layout(s).release(id), writable, release: id }, command)
}

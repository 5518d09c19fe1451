// The background processes and schedules on a host: their units rendered, the calendars checked
// before anything is installed, verified with the web unit's gate, put in place and restarted
// once the web release is healthy (and checked to stay up), put back by a rollback, and the ones
// no longer in the inputs stopped and removed. See ARCHITECTURE.md.

import { Buffer } from 'node:buffer'
import { createTwoFilesPatch } from 'diff'
import {
  processMarker,
  processUnitBase,
  renderProcessService,
  renderScheduleService,
  renderScheduleTimer
} from '../render/processes.js'
import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import type { ConfigFile } from './config.js'
import { baseName, layout, UNIT_FOLDER } from './layout.js'
import type { Step } from './step.js'
import { detached, GATE_FAILED } from './step-script.js'

/** How long a restarted process must stay up, in seconds, for the deploy to count it started. */
export const PROCESS_SETTLE_SECONDS = 5

/** How often in that time the processes are looked at: one that exits is reported then. */
const SETTLE_CHECKS_PER_SECOND = 4

/** One process or schedule on this host: the unit that is started, and its files. */
export interface ProcessUnit {
  name: string
  kind: 'process' | 'schedule'
  /** `<project>-<name>.service` for a process, `.timer` for a schedule */
  unit: string
  files: ConfigFile[]
}

export interface ProcessFiles {
  units: ProcessUnit[]
  /** unit files of the project's processes on the host that this deploy no longer has */
  removed: string[]
}

/** The state of one process or schedule after the run, as the restart step reported it. */
export interface ProcessState {
  name: string
  unit: string
  /** systemd's ActiveState: active, failed, activating... */
  state: string
  release: string
}

/** Where a process's live units go: `writable` as the web unit has it. */
export function processFiles(
  s: Settings,
  opts: { singletons: boolean; live: readonly string[]; writable?: readonly string[] }
): ProcessFiles {
  const appRoot = layout(s).current
  const here = <T extends { once: boolean }>(specs: T[]) =>
    specs.filter((spec) => opts.singletons || !spec.once)
  const path = (name: string) => `${UNIT_FOLDER}/${name}`
  const unitOpts = { appRoot, writable: opts.writable }
  const units: ProcessUnit[] = [
    ...here(s.processes).map((spec) => {
      const unit = `${processUnitBase(s.instanceName, spec.name)}.service`
      return {
        name: spec.name,
        kind: 'process' as const,
        unit,
        files: [{ path: path(unit), text: renderProcessService(s, spec, unitOpts) }]
      }
    }),
    ...here(s.schedules).map((spec) => {
      const base = processUnitBase(s.instanceName, spec.name)
      return {
        name: spec.name,
        kind: 'schedule' as const,
        unit: `${base}.timer`,
        files: [
          { path: path(`${base}.timer`), text: renderScheduleTimer(s, spec) },
          { path: path(`${base}.service`), text: renderScheduleService(s, spec, unitOpts) }
        ]
      }
    })
  ]
  const kept = new Set(units.flatMap((u) => u.files.map((f) => baseName(f.path))))
  return { units, removed: opts.live.filter((name) => !kept.has(name)).sort() }
}

const allFiles = (pf: ProcessFiles) => pf.units.flatMap((u) => u.files)
/** Every path the deploy writes or removes: what is saved before and put back by a rollback. */
const touched = (pf: ProcessFiles) => [
  ...allFiles(pf).map((f) => f.path),
  ...pf.removed.map((name) => `${UNIT_FOLDER}/${name}`)
]

/** True when the run has anything to do with processes: some to run, or some to remove. */
export function hasProcesses(pf: ProcessFiles): boolean {
  return pf.units.length > 0 || pf.removed.length > 0
}

/** For inspect: the unit files on the host that carry the project's process marker. */
export function listProcessUnits(s: Settings): ShellText {
  return sh`echo "process-units=$(grep -l -x -F -- ${processMarker(s.instanceName)} ${raw(`${UNIT_FOLDER}/*.service ${UNIT_FOLDER}/*.timer`)} 2>/dev/null | xargs -r -n1 basename | tr '\n' ' ')"`
}

function writeFile(path: string, text: string): ShellText {
  return sh`printf %s ${Buffer.from(text).toString('base64')} | base64 -d > ${path}`
}

/**
 * Every schedule's calendar expression, as this host's systemd reads it: the first step of the
 * run, so a wrong one is refused before anything is uploaded or installed.
 */
export function checkCalendarsStep(s: Settings): Step {
  return {
    id: 'check-calendars',
    phase: 'connect',
    title: 'systemd-analyze calendar for the schedules',
    privileged: false,
    command: script(
      raw('set -u'),
      raw('bad=0'),
      ...s.schedules.map(
        (t) =>
          sh`if ! out=$(systemd-analyze calendar -- ${t.calendar} 2>&1); then printf '%s\n' "$out" >&2; printf '%s\n' ${`Input 'schedules': '${t.name}': systemd cannot parse the calendar expression '${t.calendar}' (on:). See man systemd.time, "Calendar Events".`} >&2; bad=1; fi`
      ),
      raw('exit $bad')
    )
  }
}

/** Gate: systemd-analyze verify on the units, rendered to run the new release directly. */
export function verifyProcessesStep(s: Settings, id: string, pf: ProcessFiles): Step {
  const p = layout(s)
  const folder = `${p.verify}-processes`
  const files = allFiles(pf)
  return {
    id: 'verify-processes',
    phase: 'gates',
    title: 'systemd-analyze verify the process units',
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`rm -rf ${folder} && mkdir -p ${folder}`,
      ...files.map((f) =>
        writeFile(`${folder}/${baseName(f.path)}`, f.text.split(p.current).join(p.release(id)))
      ),
      sh`if ! out=$(systemd-analyze verify ${files.map((f) => `${folder}/${baseName(f.path)}`)} 2>&1); then`,
      raw('  printf "%s\\n" "$out" >&2'),
      raw(`  exit ${GATE_FAILED}`),
      raw('fi'),
      sh`printf '%s\n' "$out" | grep -F ${`${s.instanceName}-`} || true`
    )
  }
}

/** Shell that puts the saved unit files back, and takes away the ones that were not there. */
function restoreFiles(s: Settings, pf: ProcessFiles): ShellText {
  const backup = `${layout(s).backup}-processes`
  return script(
    ...touched(pf).map((path) => {
      const saved = `${backup}/${baseName(path)}`
      return sh`if [ -e ${saved} ]; then cp -p ${saved} ${path}; elif [ -e ${saved}.absent ]; then systemctl disable --now ${baseName(path)} >/dev/null 2>&1 || true; rm -f ${path}; fi`
    })
  )
}

/** Prints one `process=` line per unit: its name, unit, state and the release it runs. */
function reportStates(s: Settings, pf: ProcessFiles): ShellText {
  const current = layout(s).current
  return script(
    sh`release=$(basename "$(readlink ${current})")`,
    ...pf.units.map(
      (u) =>
        sh`printf 'process=%s %s %s %s\n' ${u.name} ${u.unit} "$(systemctl show -p ActiveState --value ${u.unit})" "$release"`
    )
  )
}

/**
 * Watches the restarted processes for PROCESS_SETTLE_SECONDS at most, and leaves in `$failed`
 * the ones that did not stay up: not active (failed, or waiting to be restarted), or another run
 * of their unit than the one started. Looked at four times a second: one that exits is told then,
 * not at the end of the wait.
 */
export function settle(processes: string[]): ShellText {
  const checks = PROCESS_SETTLE_SECONDS * SETTLE_CHECKS_PER_SECOND
  return script(
    ...processes.map(
      (unit, i) => sh`run${raw(String(i))}=$(systemctl show -p InvocationID --value ${unit})`
    ),
    raw(
      'down() { [ "$(systemctl show -p ActiveState --value "$1")" != active ] || [ "$(systemctl show -p InvocationID --value "$1")" != "$2" ]; }'
    ),
    raw('failed=""'),
    raw('gone() {'),
    raw('  failed=""'),
    ...processes.map(
      (unit, i) => sh`  if down ${unit} "$run${raw(String(i))}"; then failed="$failed ${unit}"; fi`
    ),
    raw('  [ -n "$failed" ]'),
    raw('}'),
    processes.length
      ? raw(
          `for _ in $(seq 1 ${checks}); do gone && break; sleep ${1 / SETTLE_CHECKS_PER_SECOND}; done`
        )
      : undefined,
    // Said as it is at the end of the wait, or when one was seen down.
    processes.length ? raw('gone || true') : undefined
  )
}

/**
 * After the web release is healthy, in one script done whole (server/step-script.ts `detached`): the
 * live unit files saved, the new ones put in place (nothing new is where systemd reads it
 * before), removed units stopped, disabled and deleted, the others enabled and restarted on the
 * live release at once (a worker's warm shutdown may take process-stop-timeout). A process
 * counts as started when it is still the same run of its unit PROCESS_SETTLE_SECONDS later; one
 * that is not fails the step with its journal, as soon as it is seen down (`settle`).
 */
export function restartProcessesStep(s: Settings, pf: ProcessFiles): Step {
  const backup = `${layout(s).backup}-processes`
  const processes = pf.units.filter((u) => u.kind === 'process').map((u) => u.unit)
  const all = pf.units.map((u) => u.unit)
  const names = [
    pf.units.length ? `restart ${pf.units.map((u) => u.name).join(', ')}` : '',
    pf.removed.length ? `remove ${pf.removed.join(', ')}` : ''
  ].filter(Boolean)
  return {
    id: 'restart-processes',
    phase: 'restart',
    title: `Processes: ${names.join('; ')}`,
    privileged: true,
    command: detached(
      script(
        sh`rm -rf ${backup} && mkdir -p ${backup}`,
        ...touched(pf).map((path) => {
          const saved = `${backup}/${baseName(path)}`
          return sh`if [ -e ${path} ]; then cp -p ${path} ${saved}; else : > ${saved}.absent; fi`
        }),
        ...allFiles(pf).map((f) =>
          script(
            writeFile(`${f.path}.new`, f.text),
            sh`chmod 644 ${f.path}.new && mv -f ${f.path}.new ${f.path}`
          )
        ),
        ...pf.removed.map(
          (name) =>
            sh`systemctl disable --now ${name} >/dev/null 2>&1 || true; rm -f ${`${UNIT_FOLDER}/${name}`}`
        ),
        raw('systemctl daemon-reload'),
        all.length ? sh`systemctl enable --quiet ${all}` : undefined,
        raw('since=$(date +%s)'),
        all.length ? sh`systemctl restart ${all} || true` : undefined,
        settle(processes),
        reportStates(s, pf),
        raw('for unit in $failed; do'),
        raw(
          `  printf '=== %s did not stay up (%s s); its journal:\\n' "$unit" ${PROCESS_SETTLE_SECONDS} >&2`
        ),
        raw('  journalctl -u "$unit" --since "@$since" --no-pager -o cat -n 200 >&2 || true'),
        raw('done'),
        raw('for unit in $failed; do'),
        raw(`  echo "$unit ${STAYED_DOWN}" >&2`),
        raw('done'),
        raw('[ -z "$failed" ]')
      )
    )
  }
}

/**
 * Puts the saved unit files back after the processes were restarted on a release that failed,
 * and restarts them on the previous one (`current` is back already).
 */
export function rollbackProcessesStep(s: Settings, pf: ProcessFiles): Step {
  return {
    id: 'rollback-processes',
    phase: 'health',
    title: 'Roll back the processes',
    privileged: true,
    command: detached(
      script(
        restoreFiles(s, pf),
        raw('systemctl daemon-reload'),
        ...touched(pf).map((path) => {
          const unit = baseName(path)
          // A schedule's service is started by its timer, never here.
          const timer = path.replace(/\.service$/, '.timer')
          return unit.endsWith('.timer') || !touched(pf).includes(timer)
            ? sh`if [ -e ${path} ]; then systemctl enable --quiet ${unit}; systemctl restart ${unit} || true; fi`
            : undefined
        }),
        reportStates(s, pf)
      )
    )
  }
}

/** Reads the live unit files for the dry run's diff (parsed by config.ts's parseConfigFiles). */
export function readProcessesStep(pf: ProcessFiles): Step {
  return {
    id: 'read-processes',
    phase: 'gates',
    title: 'Read the live process units',
    privileged: true,
    command: script(
      ...touched(pf).map(
        (path) => sh`echo ${`=== ${path}`}; if [ -e ${path} ]; then base64 -w0 < ${path}; fi; echo`
      )
    )
  }
}

/** The dry run's diff of the process units: new, changed, unchanged and removed files. */
export function processDiff(pf: ProcessFiles, live: Map<string, string | undefined>): string {
  const patch = (path: string, before: string | undefined, after: string | undefined) =>
    before === after
      ? `${path}: unchanged`
      : createTwoFilesPatch(
          before === undefined ? '/dev/null' : path,
          after === undefined ? '/dev/null' : path,
          before ?? '',
          after ?? '',
          'on the server',
          'this deploy'
        )
  return [
    ...allFiles(pf).map((f) => patch(f.path, live.get(f.path), f.text)),
    ...pf.removed.map((name) => {
      const path = `${UNIT_FOLDER}/${name}`
      return patch(path, live.get(path), undefined)
    })
  ].join('\n')
}

const STAYED_DOWN = 'did not stay up: it exited and was restarted by systemd'

/** The restart step's failure: the units that did not stay up, and their journal without them. */
export function parseStayedDown(stderr: string): { units: string[]; journal: string } {
  const lines = stderr.split('\n')
  return {
    units: lines.filter((l) => l.endsWith(` ${STAYED_DOWN}`)).map((l) => l.split(' ')[0]),
    journal: lines.filter((l) => !l.endsWith(` ${STAYED_DOWN}`)).join('\n')
  }
}

/** The `process=` lines of the restart or rollback step. */
export function parseProcessStates(stdout: string): ProcessState[] {
  return stdout.split('\n').flatMap((line) => {
    const m = /^process=(\S+) (\S+) (\S*) (\S*)$/.exec(line.trim())
    return m ? [{ name: m[1], unit: m[2], state: m[3], release: m[4] }] : []
  })
}

// The cutover: the new release starts in the idle instance beside the live one, traffic moves to
// it by one rename, the old instance drains and stops; and the way back. nginx connects to
// socketPath() by its path on every request, so moving traffic needs no nginx reload.

import { WANTED_BY } from '../render/gunicorn.js'
import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import { installStaged, restoreConfig, type ConfigFiles } from './config.js'
import { detached } from './step-script.js'
import { startedAt } from './health.js'
import {
  baseName,
  instanceSocketPath,
  layout,
  RUNTIME_UNIT_FOLDER,
  socketPath,
  UNIT_FOLDER,
  unitNames,
  type Instance,
  type LiveInstance
} from './layout.js'
import type { Step } from './step.js'

/** A new link renamed over the old one: `current` is never missing, not even for a moment. */
export function pointCurrentAt(s: Settings, id: string): ShellText {
  const p = layout(s)
  return sh`ln -sfn releases/${id} ${p.currentStaging} && mv -T ${p.currentStaging} ${p.current}`
}

/** nginx's workers by pid: a reload is applied once none of the old ones serves any more. */
const nginxWorkers = raw(
  [
    'nginx_workers() {',
    '  for p in /proc/[0-9]*; do',
    `    case "$(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null)" in`,
    "      'nginx: worker process is shutting down'*) ;;",
    `      'nginx: worker process'*) echo "\${p#/proc/}" ;;`,
    '    esac',
    '  done | sort',
    '}'
  ].join('\n')
)

/**
 * `systemctl reload nginx` returns before the new configuration serves; waiting for the old
 * workers keeps the health check from being answered by the old site.
 */
export const reloadNginx = script(
  nginxWorkers,
  raw('if systemctl is-active --quiet nginx; then'),
  raw('  before=$(nginx_workers); systemctl reload nginx'),
  raw('  for _ in $(seq 1 100); do'),
  raw('    still=$(printf "%s\\n" $before $(nginx_workers) | sort | uniq -d)'),
  raw('    [ -z "$still" ] && break; sleep 0.1'),
  raw('  done'),
  raw('else systemctl start nginx; fi')
)

/** An extended regular expression that matches exactly one of these names. */
function unitPattern(...names: string[]): string {
  return names.map((name) => name.replace(/[.\\^$*+?()[\]{}|]/g, '\\$&')).join('|')
}

/** `was NAME`: the install step changed that file (all of them, when it left no list). */
function changedFiles(s: Settings): ShellText {
  return script(
    sh`changed=$(cat ${layout(s).changed} 2>/dev/null || echo all)`,
    raw(`was() { printf '%s\n' $changed | grep -qxE "all|$1"; }`)
  )
}

const siteChanged = (s: Settings) =>
  sh`was ${unitPattern(baseName(layout(s).site), 'default-site')}`

/**
 * Whether the idle instance runs from units of its own (/run/systemd/system): when this deploy
 * changed the gunicorn template units (changedFiles), or a run that died left some there.
 */
const ownUnits = (s: Settings, files: ConfigFiles, idle: Instance) => {
  const runtime = layout(s).runtimeUnits(idle)
  const names = unitPattern(baseName(files.socket.path), baseName(files.service.path))
  return sh`was ${names} || [ -e ${runtime.socket} ] || [ -e ${runtime.service} ]`
}

/** The socket that traffic reaches an instance by: the link target of socketPath(). */
function liveSocket(s: Settings, instance: Instance | 'legacy'): string {
  return instanceSocketPath(s.instanceName, instance)
}

/** Points socketPath() at an instance's socket in one rename: traffic moves (nginx connects by path). */
function moveTraffic(s: Settings, instance: Instance | 'legacy'): ShellText {
  const link = socketPath(s.instanceName)
  const staging = `/run/.gunicorn-${s.instanceName}.sock.new`
  return sh`ln -sfn ${liveSocket(s, instance)} ${staging} && mv -T ${staging} ${link}`
}

/**
 * The same link for the next boot (/run is emptied; systemd-tmpfiles makes it again before nginx
 * starts), in one rename.
 */
function recordTraffic(s: Settings, instance: Instance | 'legacy'): ShellText {
  const link = socketPath(s.instanceName)
  const tmpfiles = layout(s).tmpfiles
  // The earlier single instance makes its own socket at boot: no link to record for it.
  return instance === 'legacy'
    ? sh`rm -f ${tmpfiles}`
    : sh`printf '%s\n' ${`L+ ${link} - - - - ${liveSocket(s, instance)}`} | tee ${tmpfiles}.new >/dev/null && mv -f ${tmpfiles}.new ${tmpfiles}`
}

/**
 * Where `systemctl enable` links an instance's units: each target's .wants folder. The switch and
 * the rollback write these links themselves: a shutdown under way no longer answers systemctl
 * ("Failed to connect to bus"), and an instance half enabled would boot beside the wrong one.
 */
function wants(s: Settings, instance: Instance): { socket: string; service: string } {
  const names = unitNames(s.instanceName).instance(instance)
  return {
    socket: `${UNIT_FOLDER}/${WANTED_BY.socket}.wants/${names.socket}`,
    service: `${UNIT_FOLDER}/${WANTED_BY.service}.wants/${names.service}`
  }
}

/** `systemctl enable --no-reload` of an instance, as the links it makes (to the template). */
function enableInstance(s: Settings, instance: Instance): ShellText {
  const p = layout(s)
  const link = wants(s, instance)
  return script(
    sh`mkdir -p ${dirName(link.socket)} ${dirName(link.service)}`,
    sh`ln -sfn ${p.units.socket} ${link.socket} && ln -sfn ${p.units.service} ${link.service}`
  )
}

/** `systemctl disable --no-reload` of an instance: its links go (it keeps running). */
function disableInstance(s: Settings, instance: Instance): ShellText {
  const link = wants(s, instance)
  return sh`rm -f ${link.socket} ${link.service}`
}

const dirName = (path: string) => path.slice(0, path.lastIndexOf('/'))

/**
 * Starts the target release in the idle instance while the live one serves. The units the gate
 * tested run it as the instance's own runtime units (in /run: a reboot before the switch forgets
 * them, and the live instance's units are untouched); its link points at the release. A release
 * that cannot boot is found by the instance's health check, not here.
 */
export function startStep(s: Settings, id: string, idle: Instance, files: ConfigFiles): Step {
  const p = layout(s)
  const units = unitNames(s.instanceName).instance(idle)
  const runtime = p.runtimeUnits(idle)
  const staging = `${p.instances}/.${idle}.new`
  return {
    id: 'start',
    phase: 'restart',
    title: `Start ${id} in ${units.service}, beside the live instance`,
    privileged: true,
    command: detached(
      script(
        // Left over from a run that died: whatever the idle instance runs is not live.
        sh`systemctl stop ${units.service} ${units.socket} 2>/dev/null || true`,
        // Its restart counter from 0: the instance's check reads a restart as a release that cannot boot.
        sh`systemctl reset-failed ${units.service} 2>/dev/null || true`,
        // Units the gate found unchanged: the instance runs from the template as it is, and
        // systemd reads nothing again (a daemon-reload takes 0.1 s and more).
        changedFiles(s),
        sh`if ${ownUnits(s, files, idle)}; then`,
        sh`  mkdir -p ${RUNTIME_UNIT_FOLDER}`,
        sh`  cp ${p.staged}/${baseName(files.socket.path)} ${runtime.socket}`,
        sh`  cp ${p.staged}/${baseName(files.service.path)} ${runtime.service}`,
        raw('  systemctl daemon-reload'),
        raw('fi'),
        sh`mkdir -p ${p.instances} && chmod 755 ${p.instances}`,
        sh`ln -sfn ../releases/${id} ${staging} && mv -T ${staging} ${p.instance(idle)}`,
        sh`date +%s > ${startedAt(s)}`,
        sh`systemctl start ${units.socket}`,
        sh`systemctl start ${units.service} || echo "gunicorn did not start; the health check will tell" >&2`
      )
    )
  }
}

/**
 * Moves traffic to the idle instance, already healthy: socketPath() renamed to its socket (new
 * connections go there, the old instance finishes what it has), `current` to its release. nginx
 * reads its site again only when the site changed: a reload closes idle keep-alive connections.
 *
 * A boot reads the enabled instances, the units and site, the tmpfiles line and `current`: the
 * script writes them all as files, before it asks systemd or nginx anything (a shutdown under way
 * refuses). A clean shutdown lets it finish (detached: TERM ignored). For a power cut, the order: the new
 * instance is enabled before anything names it, so the socket the tmpfiles line names at boot
 * has an instance; the old one is disabled (it keeps running, to drain or to take traffic back)
 * only once the boot's link and `current` name the new one. The writes between (the files, the
 * tmpfiles line, `current`) are renames, back to back (a cut among them may pair the new files
 * with the old `current`; an instance serves either way).
 */
export function switchStep(
  s: Settings,
  id: string,
  idle: Instance,
  live: LiveInstance,
  files: ConfigFiles
): Step {
  const units = unitNames(s.instanceName).instance(idle)
  // The earlier single instance is left enabled until the drain removes it, as before.
  const old = live === 'blue' || live === 'green' ? live : undefined
  const link = socketPath(s.instanceName)
  const p = layout(s)
  const runtime = p.runtimeUnits(idle)
  return {
    id: 'switch',
    phase: 'restart',
    title: `Move traffic to ${units.service} (${id})`,
    privileged: true,
    command: detached(
      script(
        changedFiles(s),
        // The earlier single instance's socket keeps a name of its own, for the way back and the drain.
        live === 'legacy'
          ? sh`if [ -S ${link} ] && [ ! -L ${link} ]; then ln -f ${link} ${liveSocket(s, 'legacy')}; fi`
          : undefined,
        // The releases rollbacks may choose: this one, and the one it replaces (which a host
        // deployed before these marks were kept has no mark for).
        sh`mkdir -p ${p.served} && : > ${p.served}/${id}`,
        sh`old=$(readlink ${p.current} 2>/dev/null || true); old=\${old##*/}`,
        sh`if [ -n "$old" ] && [ -d ${p.releases}/"$old" ]; then : > ${p.served}/"$old"; fi`,
        // Enabled before anything names it (on a first deploy its links wait for the template).
        enableInstance(s, idle),
        // The files the gate tested, the boot's link and `current`: now the live ones; traffic.
        installStaged(s, files),
        recordTraffic(s, idle),
        pointCurrentAt(s, id),
        moveTraffic(s, idle),
        old ? disableInstance(s, old) : undefined,
        // After the reload it runs from the template, which has its runtime units' text now
        // (none when the units did not change: it ran from the template all along).
        sh`if ${ownUnits(s, files, idle)}; then`,
        sh`  rm -f ${runtime.socket} ${runtime.service}`,
        raw('  systemctl daemon-reload'),
        raw('fi'),
        sh`if ${siteChanged(s)} || ! systemctl is-active --quiet nginx; then`,
        reloadNginx,
        raw('fi')
      )
    )
  }
}

/**
 * After a healthy switch: the old instance's last requests finish (none new reach it), within
 * drain-timeout, then it is told to stop. The deploy does not wait for that stop (gunicorn's
 * exit takes half a second or more, and no request needs it): systemd finishes it, and the next
 * deploy's start waits for it in the rare case it is still under way. The earlier single
 * instance's units are removed with it, once stopped.
 */
export function drainStep(s: Settings, old: Instance | 'legacy'): Step {
  const units = unitNames(s.instanceName)
  const p = layout(s)
  const stopped = old === 'legacy' ? units.legacy : units.instance(old)
  // The address its connections carry: the path the socket was bound to.
  const bound =
    old === 'legacy' ? socketPath(s.instanceName) : instanceSocketPath(s.instanceName, old)
  return {
    id: 'drain',
    phase: 'cleanup',
    title: `Drain and stop ${stopped.service}`,
    privileged: true,
    command: script(
      raw('set -u'),
      // Connections accepted (ESTAB) or waiting to be (the listening socket's queue).
      sh`busy() { ss -xaH src ${bound} 2>/dev/null | awk '$2 != "LISTEN" || $3 > 0' | wc -l; }`,
      sh`for _ in $(seq 1 ${s.drainTimeoutS * 10}); do [ "$(busy)" -eq 0 ] && break; sleep 0.1; done`,
      raw('left=$(busy)'),
      raw(
        '[ "$left" -eq 0 ] || echo "$left connection(s) still open after drain-timeout: gunicorn stops them gracefully" >&2'
      ),
      old === 'legacy'
        ? script(
            sh`systemctl disable --quiet --now ${stopped.service} ${stopped.socket} 2>/dev/null || systemctl stop ${stopped.service} ${stopped.socket}`,
            sh`rm -f ${p.legacyUnits.socket} ${p.legacyUnits.service} ${liveSocket(s, 'legacy')}`,
            raw('systemctl daemon-reload')
          )
        : // The switch disabled it already (its links gone): `systemctl disable` would only
          // make systemd read every unit again.
          script(
            disableInstance(s, old),
            sh`systemctl stop --no-block ${stopped.service} ${stopped.socket}`
          )
    )
  }
}

/**
 * The new instance did not pass its own health check: it never served. It stops and its runtime
 * units go; the live files were never replaced (the gate put them back after testing).
 */
export function abandonStep(s: Settings, idle: Instance): Step {
  const units = unitNames(s.instanceName).instance(idle)
  const runtime = layout(s).runtimeUnits(idle)
  return {
    id: 'abandon',
    phase: 'health',
    title: `Stop ${units.service}, which never served`,
    privileged: true,
    command: detached(
      script(
        sh`systemctl stop ${units.service} ${units.socket} 2>/dev/null || true`,
        // Its failure is in the run's report: no unit is left "failed" for a monitor to flag.
        sh`systemctl reset-failed ${units.service} ${units.socket} 2>/dev/null || true`,
        sh`rm -f ${runtime.socket} ${runtime.service}`,
        raw('systemctl daemon-reload')
      )
    )
  }
}

/**
 * Traffic back to the instance that served before, still running and warm: one rename. Then the
 * previous files go back and the new instance stops. With nothing before, nothing serves. In the
 * switch's order reversed (see switchStep): the old instance enabled before any file names it
 * again, the new one disabled last.
 */
export function rollbackStep(
  s: Settings,
  previous: string,
  idle: Instance,
  live: LiveInstance,
  files: ConfigFiles
): Step {
  const idleUnits = unitNames(s.instanceName).instance(idle)
  const p = layout(s)
  const back = previous && live !== ''
  const old = back && (live === 'blue' || live === 'green') ? live : undefined
  return {
    id: 'rollback',
    phase: 'health',
    title: `Roll back to ${previous || 'nothing'}`,
    privileged: true,
    command: detached(
      script(
        changedFiles(s),
        back ? moveTraffic(s, live) : sh`rm -f ${socketPath(s.instanceName)}`,
        old ? enableInstance(s, old) : undefined,
        restoreConfig(s, files),
        back ? recordTraffic(s, live) : sh`rm -f ${p.tmpfiles}`,
        // A previous release with no instance running it (a host in an unknown state) stays current.
        previous ? pointCurrentAt(s, previous) : sh`rm -f ${p.current}`,
        sh`rm -f ${p.runtimeUnits(idle).socket} ${p.runtimeUnits(idle).service}`,
        disableInstance(s, idle),
        raw('systemctl daemon-reload'),
        sh`systemctl stop ${idleUnits.service} ${idleUnits.socket} 2>/dev/null || true`,
        sh`if ${siteChanged(s)}; then`,
        reloadNginx,
        raw('fi')
      )
    )
  }
}

/** tls: auto, once the first certificate is issued: the HTTPS site its gate tested, loaded. */
export function reloadNginxStep(s: Settings, files: ConfigFiles): Step {
  return {
    id: 'reload-nginx',
    phase: 'restart',
    title: 'Reload nginx with the HTTPS site',
    privileged: true,
    command: detached(script(installStaged(s, files), reloadNginx))
  }
}

/** The HTTPS site did not answer: the plain HTTP site it replaced goes back. */
export function undoSiteStep(s: Settings, files: ConfigFiles): Step {
  return {
    id: 'undo-site',
    phase: 'health',
    title: 'Put the plain HTTP site back',
    privileged: true,
    command: detached(script(restoreConfig(s, files), reloadNginx))
  }
}

// The switch to a release and the way back: `current`, gunicorn's units, nginx.

import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import { installStaged, restoreConfig, type ConfigFiles } from './config.js'
import { baseName, layout, socketPath, unitNames } from './layout.js'
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
  raw('  for i in $(seq 1 100); do'),
  raw('    still=$(printf "%s\\n" $before $(nginx_workers) | sort | uniq -d)'),
  raw('    [ -z "$still" ] && break; sleep 0.1'),
  raw('  done'),
  raw('else systemctl start nginx; fi')
)

/**
 * A script that runs to its end once started, even when the runner is killed or the connection
 * drops half-way (its output then has nowhere to go): a switch or a rollback is done whole, never
 * half. Its output is printed when it ends.
 */
export function detached(body: ShellText): ShellText {
  return script(
    raw("trap '' HUP PIPE"),
    raw('out=$(mktemp) err=$(mktemp) rc=0'),
    raw(`sh -eu >"$out" 2>"$err" <<'DDA_DETACHED' || rc=$?`),
    body,
    raw('DDA_DETACHED'),
    raw('cat "$out"; cat "$err" >&2; rm -f "$out" "$err"'),
    raw('exit $rc')
  )
}

/** An extended regular expression that matches exactly one of these names. */
function unitPattern(...names: string[]): string {
  return names.map((name) => name.replace(/[.\\^$*+?()[\]{}|]/g, '\\$&')).join('|')
}

/**
 * What the switch does once the new files are in place: `current` to the release, systemd and
 * nginx told only of what changed.
 */
export function switchBody(s: Settings, id: string): ShellText {
  const units = unitNames(s.projectName)
  const changed = layout(s).changed
  const p = layout(s)
  return script(
    // The releases rollbacks may choose: this one, and the one it replaces (which a host
    // deployed before these marks were kept has no mark for).
    sh`mkdir -p ${p.served} && : > ${p.served}/${id}`,
    sh`old=$(readlink ${p.current} 2>/dev/null || true); old=\${old##*/}`,
    sh`if [ -n "$old" ] && [ -d ${p.releases}/"$old" ]; then : > ${p.served}/"$old"; fi`,
    pointCurrentAt(s, id),
    // What the install step changed (all, when it left no list).
    sh`changed=$(cat ${changed} 2>/dev/null || echo all)`,
    raw(`was() { printf '%s\n' $changed | grep -qxE "all|$1"; }`),
    // systemd reads the units again, and enables them, only when they changed.
    sh`if was ${unitPattern(units.socket, units.service)}; then systemctl daemon-reload; systemctl enable --quiet ${units.socket} ${units.service}; fi`,
    // The socket stays open across a service restart so requests wait instead of failing;
    // only a changed socket file needs the socket restarted.
    sh`if was ${unitPattern(units.socket)}; then`,
    sh`  systemctl stop ${units.service} ${units.socket} 2>/dev/null || true; rm -f ${socketPath(s.projectName)}; systemctl start ${units.socket}`,
    sh`else systemctl start ${units.socket}; fi`,
    sh`systemctl restart ${units.service} || echo "gunicorn did not start; the health check will tell" >&2`,
    // nginx reads the site again only when it changed: the switch needs no reload (the site
    // names `current` and the same socket), and a reload closes idle keep-alive connections.
    sh`if was ${unitPattern(baseName(layout(s).site), 'default-site')} || ! systemctl is-active --quiet nginx; then`,
    reloadNginx,
    raw('fi')
  )
}

/** The files the gate tested, then the release, in one script done whole: nothing new is live before. */
export function switchStep(s: Settings, id: string, files: ConfigFiles): Step {
  return {
    id: 'switch',
    phase: 'restart',
    title: `Switch current to ${id}, restart gunicorn, reload nginx`,
    privileged: true,
    command: detached(script(installStaged(s, files), switchBody(s, id)))
  }
}

/** Puts the previous release and its files back after an unhealthy deploy. */
export function rollbackStep(s: Settings, previous: string, files: ConfigFiles): Step {
  const units = unitNames(s.projectName)
  return {
    id: 'rollback',
    phase: 'health',
    title: `Roll back to ${previous || 'nothing'}`,
    privileged: true,
    command: detached(
      script(
        restoreConfig(s, files),
        previous ? pointCurrentAt(s, previous) : sh`rm -f ${layout(s).current}`,
        raw('systemctl daemon-reload'),
        previous
          ? sh`systemctl restart ${units.service} || true`
          : sh`systemctl disable --now ${units.service} ${units.socket} 2>/dev/null || true`,
        reloadNginx
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

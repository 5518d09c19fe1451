// Every path the action owns on the server, in one place. See ARCHITECTURE.md, "On the server".

import type { Settings } from '../settings.js'

export const UNIT_FOLDER = '/etc/systemd/system'
export const SITE_AVAILABLE = '/etc/nginx/sites-available'
export const SITE_ENABLED = '/etc/nginx/sites-enabled'
/** Debian's welcome site, disabled while our site is the catch-all `_`. */
export const DEFAULT_SITE_LINK = `${SITE_ENABLED}/default`
export const DEFAULT_SITE = `${SITE_AVAILABLE}/default`
/** A release holding this file failed its deploy: no rollback chooses it. */
export const FAILED_MARK = '.deploy-failed'

export function socketPath(projectName: string): string {
  return `/run/gunicorn-${projectName}.sock`
}

export function unitNames(projectName: string): { socket: string; service: string } {
  return {
    socket: `gunicorn-${projectName}.socket`,
    service: `gunicorn-${projectName}.service`
  }
}

export interface Layout {
  root: string
  releases: string
  release(id: string): string
  /** the link to the live release */
  current: string
  /** a new `current` is made here, then renamed over it */
  currentStaging: string
  /** what outlives a release: the app's data, .env */
  shared: string
  env: string
  /** root's own working folder: the gate's backups, the units being verified */
  state: string
  backup: string
  /** the names of the files the last install changed */
  changed: string
  verify: string
  lock: string
  venvs: string
  venv(key: string): string
  units: { socket: string; service: string }
  site: string
  siteLink: string
}

export function layout(s: Pick<Settings, 'deployPath' | 'projectName'>): Layout {
  const root = s.deployPath
  const units = unitNames(s.projectName)
  return {
    root,
    releases: `${root}/releases`,
    release: (id) => `${root}/releases/${id}`,
    current: `${root}/current`,
    currentStaging: `${root}/.current.new`,
    shared: `${root}/shared`,
    env: `${root}/shared/.env`,
    state: `${root}/.deploy`,
    backup: `${root}/.deploy/previous`,
    changed: `${root}/.deploy/changed`,
    verify: `${root}/.deploy/verify`,
    lock: `${root}/.deploy.lock`,
    venvs: `${root}/venvs`,
    venv: (key) => `${root}/venvs/${key}`,
    units: { socket: `${UNIT_FOLDER}/${units.socket}`, service: `${UNIT_FOLDER}/${units.service}` },
    site: `${SITE_AVAILABLE}/${s.projectName}`,
    siteLink: `${SITE_ENABLED}/${s.projectName}`
  }
}

/** The last part of a path: the name a file is saved under in the gate's backup folder. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

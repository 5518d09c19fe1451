// The deploy key: one hash of everything a deploy puts on a host (the uploaded files, the venv's
// key, the settings that reach the server, the action's own code). A host whose live release was
// deployed to its end with the same key already serves this deploy: the run changes nothing.

import { createHash } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { uploadExcluder } from './remote/archive.js'
import type { Settings } from './settings.js'

/**
 * Settings that shape the run, not what it leaves on the host: how to connect, GitHub's side,
 * the run's mode, and the workspace's own path (the files' digest stands for it). Anything else
 * counts: a setting missed here only costs a full deploy, never a skipped one.
 */
const NOT_ON_THE_HOST = new Set<string>([
  'hosts',
  'username',
  'privateKey',
  'passphrase',
  'password',
  'knownHosts',
  'knownHostEntries',
  'fingerprints',
  'hostFingerprints',
  'insecureSkipHostKeyCheck',
  'jumpHost',
  'connectTimeoutMs',
  'commandTimeoutMs',
  'githubToken',
  'environment',
  'environmentUrl',
  'deployment',
  'dryRun',
  'maxParallel',
  'lockWaitMs',
  'source'
])

/**
 * The files the upload sends (the same exclusions), in a fixed order: each path with its kind,
 * its executable bit and its content, or a link's target. Links are not followed, as tar does not.
 */
export function sourceDigest(source: string, exclude: string[]): string {
  const excluded = uploadExcluder(exclude)
  const hash = createHash('sha256')
  const walk = (dir: string, relative: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = relative ? `${relative}/${name}` : name
      if (excluded(path)) continue
      const full = join(dir, name)
      const stat = lstatSync(full)
      if (stat.isDirectory()) {
        hash.update(`d ${path}\0`)
        walk(full, path)
      } else if (stat.isSymbolicLink()) hash.update(`l ${path}\0${readlinkSync(full)}\0`)
      else if (stat.isFile()) {
        hash.update(`f ${path} ${stat.mode & 0o111 ? 'x' : '-'} ${stat.size}\0`)
        hash.update(readFileSync(full))
      }
    }
  }
  walk(source, '')
  return hash.digest('hex')
}

/** The action's own code: a new version may render other files from the same settings. */
export function actionDigest(file = fileURLToPath(import.meta.url)): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

export function deployKey(
  s: Settings,
  parts: { source: string; venv: string; action: string }
): string {
  const settings = Object.fromEntries(
    Object.entries(s).filter(([name]) => !NOT_ON_THE_HOST.has(name))
  )
  return createHash('sha256')
    .update(JSON.stringify({ version: 1, settings, ...parts }))
    .digest('hex')
}

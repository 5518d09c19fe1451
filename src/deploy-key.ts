// The deploy key: one hash of everything a deploy puts on a host (the uploaded files, hashed in
// remote/archive.ts, the venv's key, the settings that reach the server, the action's own code).
// A host whose live release was deployed to its end with the same key already serves this
// deploy: the run changes nothing.

import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
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
  // Installed by every run that finds them missing, before the deploy key is compared.
  'provision',
  'aptPackages',
  'source'
])

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

// What the venv is built from, read on the runner: the source's requirements files, or a lock
// resolved for each host's Python (flow/dependencies.ts); the venv's key; wheels: runner's files,
// downloaded and checked once for every host of the run.

import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keyedFiles, lockPlan } from './flow/dependencies.js'
import type { LockPlan } from './flow/deps.js'
import { fetchLockedFiles } from './remote/archive.js'
import type { HostFacts } from './server/facts.js'
import { venvKey } from './server/release.js'
import type { Settings } from './settings.js'
import { lockFileText, requirementsFiles, type RequirementsFile } from './workspace.js'

/** The source's requirements files, read on the runner; null when one may not be read. */
function requirementsOf(s: Settings): RequirementsFile[] | null {
  return s.source === null ? [] : requirementsFiles(s.source, s.requirements)
}

/** The lock's text, read once per run; each host's resolution, once per host check. */
const lockTexts = new WeakMap<Settings, string | null>()
const lockPlans = new WeakMap<HostFacts, LockPlan>()

/** The lock resolved for this host (undefined without a lock, or with nothing uploaded). */
export function lockOf(s: Settings, facts: HostFacts): LockPlan | undefined {
  const lock = s.dependencies.lock
  if (!lock || s.source === null) return undefined
  if (!lockTexts.has(s)) lockTexts.set(s, lockFileText(s.source, lock))
  const plan =
    lockPlans.get(facts) ?? runnerWheels(s, facts, lockPlan(s, lockTexts.get(s) ?? null, facts))
  lockPlans.set(facts, plan)
  return plan
}

/** wheels: runner: the files go to a host that has no venv of this key (the host check said). */
function runnerWheels(s: Settings, facts: HostFacts, plan: LockPlan): LockPlan {
  if (!plan.ok || s.dependencies.wheels !== 'runner') return plan
  const key = venvKey(keyedFiles(plan), facts.python, s.systemSitePackages)
  const wheels = !(key && facts.venvs?.includes(key))
  return { ...plan, install: { ...plan.install, wheels } }
}

/** wheels: runner's files, cached on the runner by their hash (every host of the run shares it). */
const WHEELS_CACHE = join(process.env.RUNNER_TEMP || tmpdir(), 'django-deploy-action-wheels')

/** The requirements the venv's key covers: a lock's list for this host, or the source's files. */
export function requirementsFor(s: Settings, facts: HostFacts): RequirementsFile[] | null {
  const lock = lockOf(s, facts)
  if (lock) return lock.ok ? lock.files : null
  return requirementsOf(s)
}

/** null: requirements the runner may not read, so no key covers them. */
export function venvKeyOf(s: Settings, facts: HostFacts): string | null {
  const lock = lockOf(s, facts)
  if (lock) return lock.ok ? venvKey(keyedFiles(lock), facts.python, s.systemSitePackages) : null
  const files = requirementsOf(s)
  return files === null ? null : venvKey(files, facts.python, s.systemSitePackages)
}

/** wheels: runner: this host's files fetched into a folder of their own; `problem`: '' when they were. */
export async function fetchWheels(
  s: Settings,
  facts: HostFacts,
  info: (message: string) => void
): Promise<{ folder: string; problem: string }> {
  const plan = lockOf(s, facts)
  if (!plan?.ok) return { folder: '', problem: '' }
  try {
    const folder = await fetchLockedFiles(
      plan.deps.packages.map((p) => p.files[0]),
      WHEELS_CACHE
    )
    info(
      `downloaded and checked ${plan.deps.packages.length} files of ${plan.deps.path} (wheels: runner)`
    )
    return { folder, problem: '' }
  } catch (error) {
    return { folder: '', problem: (error as Error).message }
  }
}

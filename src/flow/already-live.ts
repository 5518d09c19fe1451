// A deploy of what already serves: the live release was deployed to its end with this run's
// deploy key (the same files, venv, settings and action). Nothing is uploaded, built or
// restarted: the live site is checked through nginx, and the run says so. A site that does not
// answer is deployed again in full.

import { needsCertificate, servesTls } from '../server/acme.js'
import { parseHealth, siteHealthStep, type HealthResult } from '../server/health.js'
import type { HostFacts } from '../server/facts.js'
import type { Step } from '../server/step.js'
import type { Settings } from '../settings.js'
import type { HostDeps } from './deps.js'
import { alreadyLiveMessage, liveNotAnswering, redeployMessage } from './notices.js'

/** The live site's own check is short: a site that does not answer is deployed again anyway. */
const CHECK_MS = 10_000

/** The check through nginx when the live release is this deploy (a dry run asks too); else none. */
export function alreadyLiveCheck(
  s: Settings,
  facts: HostFacts,
  deployKey: string | null
): Step | undefined {
  if (s.rollback || s.source === null) return undefined
  if (!deployKey || !facts.live || facts.deployed !== deployKey) return undefined
  // A certificate to obtain or renew is work to do.
  if (needsCertificate(s, facts)) return undefined
  return siteHealthStep(
    s,
    facts,
    Math.min(s.healthTimeoutMs, CHECK_MS),
    servesTls(s, facts) ? 'tls' : 'plain'
  )
}

/** The health of the live release when it is already this deploy and answers; else undefined. */
export async function checkAlreadyLive(
  deps: Pick<HostDeps, 'settings' | 'run' | 'info' | 'deployKey' | 'checkPublicUrl'>,
  facts: HostFacts
): Promise<HealthResult | undefined> {
  const check = alreadyLiveCheck(deps.settings, facts, deps.deployKey(facts))
  if (!check) return undefined
  const health = parseHealth((await deps.run(check, { allowFailure: true })).stdout)
  // In maintenance the public address answers 503 by design.
  const problem = health.healthy
    ? deps.settings.healthUrl && !facts.maintenance
      ? await deps.checkPublicUrl()
      : ''
    : liveNotAnswering(deps.settings, health)
  if (problem) {
    deps.info(redeployMessage(facts.live, problem))
    return undefined
  }
  deps.info(alreadyLiveMessage(facts.live))
  return health
}

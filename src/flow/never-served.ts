// What a deploy says when the new release failed its own health check, on its socket, before any
// traffic reached it: the exception the journal has, the cause, that nothing was switched, a hint.

import type { Plan } from '../plan.js'
import { hintFor } from '../server/cause.js'
import { parseErrors, type HealthResult } from '../server/health.js'
import type { Settings } from '../settings.js'

export function neverServed(
  plan: Plan,
  health: HealthResult,
  s: Settings,
  diagnostics: string
): { message: string; status: 'rolled-back' | 'failure' } {
  const cause =
    `the health check got ${health.status || 'no answer'}${health.detail ? ` (${health.detail})` : ''} from ${s.healthPath} on its own socket` +
    (health.durationMs >= s.healthTimeoutMs ? ` within ${s.healthTimeoutMs / 1000} s` : '')
  const errors = parseErrors(diagnostics)
  const hint = hintFor(`${cause}\n${errors.join('\n')}`)
  const kept = `It never served a request: nothing was switched${plan.previous ? `, ${plan.previous} still serves` : ''}.`
  return {
    message:
      (errors.length ? `${errors[errors.length - 1]}\n` : '') +
      `${plan.target} was not healthy: ${cause}. ${kept}` +
      (hint ? `\n${hint}` : '') +
      (errors.length > 1 ? `\nThe app said: ${errors.join('\n')}` : ''),
    // The previous release serves, as after a rollback.
    status: plan.previous ? 'rolled-back' : 'failure'
  }
}

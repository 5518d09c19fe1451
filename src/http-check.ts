// health-url: the public address, checked from the runner after the check on the host passed.

import type { Settings } from './settings.js'

/** Requests health-url until it answers a healthy status or health-timeout; '' when healthy. */
export async function checkPublicUrl(s: Settings): Promise<string> {
  const deadline = Date.now() + s.healthTimeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      const response = await fetch(s.healthUrl as string, {
        redirect: 'manual',
        signal: AbortSignal.timeout(5000)
      })
      if (s.healthExpect.some((r) => response.status >= r.min && response.status <= r.max))
        return ''
      last = `${s.healthUrl} answered ${response.status}`
    } catch (error) {
      last = `${s.healthUrl} did not answer: ${(error as Error).message}`
    }
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  return `health-url: ${last}`
}

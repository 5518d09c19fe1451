// Health check inputs: what the action requests after a release goes live, and what it accepts.

import { Input } from '../constants.js'
import type { Settings, StatusRange } from '../settings.js'
import { hasDotSegment, InputError, type InputReader, readUrl, splitList } from './read.js'

type HealthSettings = Pick<
  Settings,
  'healthPath' | 'healthExpect' | 'healthTimeoutMs' | 'healthUrl' | 'drainTimeoutS'
>

export function readHealth(read: InputReader): HealthSettings {
  const healthUrl = read.line(Input.HealthUrl, 2048) || undefined
  if (healthUrl) readUrl(Input.HealthUrl, healthUrl)
  return {
    healthPath: readHealthPath(read.line(Input.HealthPath, 1024)),
    healthExpect: readStatusRanges(read.line(Input.HealthExpect)),
    healthTimeoutMs: read.int(Input.HealthTimeout, 1, 3600) * 1000,
    healthUrl,
    drainTimeoutS: read.int(Input.DrainTimeout, 0, 3600)
  }
}

function readHealthPath(value: string): string {
  // No ; $ ' ( ) *: a health check never needs them, and `%` only as an escape (%2F).
  if (
    !/^\/(?:[A-Za-z0-9._~!&+,=:@/?-]|%[0-9A-Fa-f]{2})*$/.test(value) ||
    hasDotSegment(value.split('?')[0])
  ) {
    throw new InputError(
      Input.HealthPath,
      `'${value}' must be a URL path starting with /, e.g. /healthz (letters, digits, _ . ~ - / and a ?query, no ..)`
    )
  }
  return value
}

function readStatusRanges(value: string): StatusRange[] {
  return splitList(value, /[\s,]+/).map((part) => {
    const match = /^(\d{3})(?:-(\d{3}))?$/.exec(part)
    const min = Number(match?.[1])
    const max = Number(match?.[2] ?? match?.[1])
    if (!match || min < 100 || max > 599 || min > max) {
      throw new InputError(
        Input.HealthExpect,
        `'${part}' must be a status (200) or a range (200-399), from 100 to 599`
      )
    }
    return { min, max }
  })
}

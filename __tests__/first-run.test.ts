// What a run says at once: a health path that does not exist, a warning on a later deploy and a
// failure of a first one, unless health-expect was given and accepts a 404.

import { acceptsMissingPath, healthPathFails } from '../src/flow/first-run.js'
import { redactor, summaryMarkdown, type HostReport } from '../src/report/report.js'
import { settingsFor } from './settings-fixture.js'

const notFound = { healthy: true, status: 404, durationMs: 3, detail: '' }

function said(s = settingsFor({ healthPath: '/healthz' }), previous = '', health = notFound) {
  const warnings: string[] = []
  const fails = healthPathFails({ settings: s, warn: (m) => warnings.push(m) }, health, previous)
  return { fails, warnings }
}

test('a first deploy fails on a 404, naming the path and the ways to fix it', () => {
  const { fails, warnings } = said()
  expect(fails?.cause).toBe('health-path /healthz does not exist: the app answered 404 to it')
  expect(fails?.fix).toMatch(/Add a view .* set health-path .* set health-expect/)
  expect(warnings).toEqual([])
})

test('a later deploy is warned, not failed', () => {
  const { fails, warnings } = said(undefined, 'r1')
  expect(fails).toBeUndefined()
  expect(warnings).toEqual([expect.stringMatching(/^health-path \/healthz does not exist/)])
})

test('a 200 says nothing', () => {
  expect(said(undefined, '', { ...notFound, status: 200 })).toEqual({
    fails: undefined,
    warnings: []
  })
})

test('health-expect given with 404 in it says a missing path is meant; the default does not', () => {
  expect(acceptsMissingPath({ healthExpect: [{ min: 200, max: 499 }] })).toBe(false)
  expect(acceptsMissingPath({ healthExpect: [{ min: 200, max: 404 }] })).toBe(true)
  expect(acceptsMissingPath({ healthExpect: [{ min: 200, max: 299 }] })).toBe(false)
  const meant = settingsFor({
    healthExpect: [
      { min: 200, max: 299 },
      { min: 404, max: 404 }
    ]
  })
  expect(said(meant).fails).toBeUndefined()
})

test("the summary shows the site's name, and masks the secret key", () => {
  const s = settingsFor({
    environmentUrl: 'https://shop.example/',
    dotenv: [
      ['DJANGO_SECRET_KEY', 'django-insecure-0123456789'],
      ['DJANGO_ALLOWED_HOSTS', 'shop.example']
    ]
  })
  const report: HostReport = {
    host: 'app1.example.com',
    release: 'r2',
    previousRelease: '',
    status: 'failure',
    gates: [],
    phaseMs: {},
    durationMs: 1000,
    message: 'the settings printed django-insecure-0123456789'
  }
  const summary = redactor(s)(summaryMarkdown(s, [report]))
  expect(summary).toContain('Site: https://shop.example/')
  expect(summary).not.toContain('django-insecure-0123456789')
})

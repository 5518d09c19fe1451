import { parseOutputFile, runAction } from '../test/e2e/action.js'

// The bundle as a runner starts it, with no inputs at all.
test('node dist/index.js with no inputs exits 1 with an ::error:: naming host', async () => {
  const run = await runAction({})
  expect(run.code).toBe(1)
  expect(run.stdout).toMatch(/^::error::Input 'host': is required/m)
  expect(run.outputs.status).toBe('failure')
})

test('a bad input is named before anything is sent', async () => {
  const run = await runAction({
    host: 'example.com',
    username: 'deploy',
    key: 'not a key',
    'project-name': 'mysite'
  })
  expect(run.code).toBe(1)
  expect(run.stdout).toMatch(/::error::Input 'key': has no "-----BEGIN/)
})

test('parseOutputFile reads both forms', () => {
  expect(parseOutputFile('a=1\nb<<EOF\nx\ny\nEOF\n')).toEqual({ a: '1', b: 'x\ny' })
})

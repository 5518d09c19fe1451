// action.yml is where the inputs' defaults are written; constants.ts repeats them because a
// runner passes '' (not the default) for an input a workflow sets to ''. The two must agree.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { INPUT_DEFAULTS, Input } from '../src/constants.js'

const action = parse(readFileSync(join(process.cwd(), 'action.yml'), 'utf8')) as {
  inputs: Record<string, { default?: string }>
}

test('every default in action.yml is the one the settings apply, and no other', () => {
  const declared = Object.fromEntries(
    Object.entries(action.inputs)
      // An expression (github-token) is the runner's to fill in.
      .filter(([, input]) => input.default !== undefined && !input.default.includes('${{'))
      .map(([name, input]) => [name, String(input.default).replace(/\n$/, '')])
  )
  expect(INPUT_DEFAULTS).toEqual(declared)
  for (const name of Object.keys(INPUT_DEFAULTS)) expect(Object.values(Input)).toContain(name)
})

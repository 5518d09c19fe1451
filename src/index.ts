import './esm-globals.js'
import * as core from '@actions/core'
import { run } from './main.js'

run().catch((error: unknown) => {
  core.setOutput('status', 'failure')
  core.setFailed(error instanceof Error ? error.message : String(error))
})

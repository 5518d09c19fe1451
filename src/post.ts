// The post step (action.yml `post:`, run with `post-if: always()`): closes a deployment that the
// main step left in progress. It reads one input, the token, itself: the full settings would pull
// the SSH code into this bundle. It never fails the job.
import './esm-globals.js'
import * as core from '@actions/core'
import { Input } from './constants.js'
import { markUnfinishedDeployment } from './report/deployment.js'

markUnfinishedDeployment(core.getInput(Input.GithubToken)).catch((error: unknown) => {
  core.warning(`The post step could not check the deployment: ${String(error)}`)
})

// jest globalTeardown of the e2e project: power off this run's test hosts (and stale ones left
// by killed runs), even after a failed test. Hosts of other runs on the machine are left alone.
// Self-contained on purpose: jest loads global hooks without the moduleNameMapper that maps
// './testhost.js' to its .ts source, so this file imports nothing of ours.
import { execFile } from 'node:child_process'
import { join } from 'node:path'

export default async function teardown(
  _globalConfig: unknown,
  projectConfig: { rootDir: string }
): Promise<void> {
  const script = join(projectConfig.rootDir, 'test', 'e2e', 'testhost.sh')
  // The same tag as HOST_OWNER in testhost.ts: global hooks run in the jest process itself.
  const owner = `jest-${process.pid}`
  await new Promise<void>((resolve, reject) => {
    execFile(
      'bash',
      [script, 'stop-all', '--owner', owner],
      { timeout: 120_000 },
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`testhost.sh stop-all failed: ${error.message}\n${stderr}`))
        else resolve()
      }
    )
  })
}

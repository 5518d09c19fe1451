// Reading and validating the inputs: one reader per domain (src/inputs/), composed here into the
// one Settings object (src/settings.ts) the rest of the action takes its values from.

import type { Settings } from '../settings.js'
import { readConnection } from './connection.js'
import { readGitHub } from './github.js'
import { readHealth } from './health.js'
import { readMaintenance } from './maintenance.js'
import { readModes } from './modes.js'
import { readPackages } from './packages.js'
import { readNginx } from './nginx.js'
import { readOperation } from './operations.js'
import { previewContext, previewInstance, readPreview } from './preview.js'
import { readPreviewDatabase } from './preview-database.js'
import { readProcesses } from './processes.js'
import { readProject } from './project.js'
import { readReleasePaths } from './release-paths.js'
import { readServer } from './server.js'
import { inputReader, type ReadContext } from './read.js'
import { previewDatabaseUrl } from '../server/preview-database.js'

export { InputError, type ReadContext } from './read.js'

/** Reads every input, validates it and returns the typed settings; throws InputError. */
export function readSettings(given: ReadContext): Settings {
  const preview = readPreview(inputReader(given))
  // A preview's readers see its own values (its deploy path, app user, environment...).
  const ctx = preview ? previewContext(given, preview) : given
  const read = inputReader(ctx)
  const connection = readConnection(read)
  const modes = readModes(read, connection.hosts.length)
  const project = readProject(read, { username: connection.username, rollback: modes.rollback })
  const database = readPreviewDatabase(read, {
    projectName: project.projectName,
    ...(preview ? { preview: preview.name } : {})
  })
  if (preview && database) {
    preview.database = database
    // The preview's own URL, in place of any the dotenv gives (production's database).
    project.dotenv = [
      ...project.dotenv.filter(([name]) => name !== database.env),
      [database.env, previewDatabaseUrl(database)]
    ]
  }
  const nginx = readNginx(read, { deployPath: project.deployPath, appUser: project.appUser })
  const github = readGitHub(read, {
    tls: nginx.tlsCertificate !== undefined || nginx.acme !== undefined,
    serverNames: nginx.serverNames,
    firstHost: connection.hosts[0]
  })
  const release = readReleasePaths(read, project)
  const processes = readProcesses(read, connection)
  return {
    ...connection,
    ...project,
    instanceName: preview ? previewInstance(project.projectName, preview) : project.projectName,
    ...(preview ? { preview } : {}),
    ...release,
    ...readServer(read),
    ...processes,
    ...nginx,
    ...readHealth(read),
    ...github,
    ...modes,
    ...readPackages(read),
    operation: readOperation(read, modes),
    ...readMaintenance(read)
  }
}

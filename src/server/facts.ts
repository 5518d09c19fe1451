// What the host said about itself before the deploy (the first step, inspect.ts, reads it): the
// facts the planner and the step builders are given, in a module of its own so that any of them
// may take it without importing the step that reads it.

import type { ServerPython } from '../lockfile/types.js'
import type { AcmeFacts } from './acme.js'
import type { ProjectSettings } from './discover.js'
import type { LiveInstance } from './layout.js'
import type { DeployedPreview } from './previews.js'

/** What the host said about itself before the deploy. */
export interface HostFacts extends AcmeFacts {
  cpus: number
  /** the release `current` points at, or '' on a first deploy */
  live: string
  /** releases on the host, newest first */
  releases: string[]
  /** releases marked as failed */
  failed: string[]
  /** releases that went live (hosts deployed before this was kept say none) */
  served: string[]
  /** the interpreter's version and real path, part of a venv's key */
  python: string
  /** the unit files of the project's processes and schedules (server/processes.ts) */
  processUnits?: string[]
  /** the instance traffic goes to: where nginx's socket path leads */
  instance: LiveInstance
  /** releases whose deploy applied migrations (none when not said) */
  migrated?: string[]
  /** the database backups' file names (<release-id>.<format>) */
  backups?: string[]
  /** the deploy key the live release was deployed with (layout.ts deployed), if its deploy ended well */
  deployed?: string
  /** what the project's settings said when the live release was deployed (recorded with its key) */
  projectSettings?: ProjectSettings
  /** the site answers with the maintenance page (server/maintenance.ts) */
  maintenance?: boolean
  /** a preview deploy: the project's previews on the host, when each was last deployed */
  previews?: DeployedPreview[]
  /** a preview deploy: production's shared/ is passable by every local user (an earlier version's 0711) */
  productionSharedOpen?: boolean
  /** a preview's first deploy: its app user ('user') or deploy path ('path') is there already */
  previewTaken?: string[]
  /** provision, apt-packages: the needed Debian packages the host lacks (server/provision.ts) */
  packagesMissing?: string[]
  /** the host check stopped after saying so: it runs again once they are installed */
  provisionFirst?: boolean
  /** the keys of the complete venvs on the host (a lock's deploy: wheels: runner sends none to one) */
  venvs?: string[]
  /** a lock's dry run: the live venv's packages, `name==version` each (none: no live venv) */
  livePackages?: string[]
  /** a lock's deploy: the server's Python as markers and wheel tags see it (none when unread) */
  serverPython?: ServerPython
  /** the host's clock (ms since the epoch), for preview-ttl */
  now?: number
}

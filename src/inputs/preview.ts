// The preview inputs: `preview: <name>` makes the run an isolated instance of the project,
// `<project-name>-<name>`, with its own deploy path, units, site and app user. The other readers
// read the preview's own values through previewContext: the inputs a preview derives from
// production's (deploy-path, app-user, environment...) are given to them already derived.

import { Input, INPUT_DEFAULTS } from '../constants.js'
import type { PreviewSettings } from '../settings.js'
import { PREVIEW_NAME } from '../server/previews.js'
import { HOSTNAME, InputError, type InputReader, type ReadContext } from './read.js'

/** What a user name may be on Debian (useradd's default NAME_REGEX, and 32 characters). */
const MAX_USER = 32

/** The preview when `preview` is set, else undefined (a production deploy). */
export function readPreview(read: InputReader): PreviewSettings | undefined {
  // Each input is read (and checked) with or without a preview: a wrong value is never ignored.
  const given = read.line(Input.Preview, 64)
  const processes = read.bool(Input.PreviewProcesses)
  const domain = read.line(Input.PreviewDomain, 200).toLowerCase().replace(/\.$/, '')
  const limit = read.line(Input.PreviewLimit) && read.int(Input.PreviewLimit, 1, 1000)
  const ttlDays = read.line(Input.PreviewTtl) && read.int(Input.PreviewTtl, 1, 3650)
  if (given === '') return undefined
  const name = given.toLowerCase()
  if (!PREVIEW_NAME.test(name))
    throw new InputError(
      Input.Preview,
      `'${given}' is not a preview name: letters, digits and -, at most 30, starting and ending ` +
        'with a letter or digit, e.g. pr-${{ github.event.number }}'
    )
  // Without its own name it would answer on production's server names, and read their errors.
  if (domain === '' && !read.bool(Input.Remove))
    throw new InputError(
      Input.PreviewDomain,
      'is needed with preview: the preview answers on <name>.<preview-domain> (a domain of its ' +
        "own, not production's: a preview's code could set cookies production reads), e.g. preview.example.net"
    )
  if (domain !== '' && (!HOSTNAME.test(domain) || !domain.includes('.')))
    throw new InputError(
      Input.PreviewDomain,
      `'${domain}' is not a domain: the preview answers on <name>.<domain>, e.g. preview.example.com`
    )
  return {
    name,
    processes,
    ...(domain ? { domain } : {}),
    ...(limit ? { limit } : {}),
    ...(ttlDays ? { ttlDays } : {})
  }
}

/** `<project-name>-<name>`: the name every server path and unit of the preview derives from. */
export function previewInstance(projectName: string, preview: PreviewSettings): string {
  return `${projectName}-${preview.name}`
}

/**
 * The inputs as a preview reads them: its deploy path and app user are production's with
 * `-<name>` (its own, so it cannot read production's files), its environment
 * `<environment>/<name>`, its server name `<name>.<preview-domain>`, 1 worker unless `workers`
 * says otherwise, no processes or schedules unless preview-processes, and remove takes it whole
 * (force: a preview's data is disposable).
 */
export function previewContext(ctx: ReadContext, preview: PreviewSettings): ReadContext {
  const given = (name: Input) => ctx.getInput(name).trim()
  const project = () => given(Input.ProjectName)
  const derived: Partial<Record<Input, () => string>> = {
    [Input.DeployPath]: () =>
      `${given(Input.DeployPath).replace(/\/+$/, '') || `/srv/${project()}`}-${preview.name}`,
    [Input.AppUser]: () => previewUser(given(Input.AppUser), project(), preview),
    [Input.Environment]: () =>
      `${given(Input.Environment) || INPUT_DEFAULTS[Input.Environment]}/${preview.name}`,
    [Input.Workers]: () => given(Input.Workers) || '1',
    [Input.Processes]: () => (preview.processes ? ctx.getInput(Input.Processes) : ''),
    [Input.Schedules]: () => (preview.processes ? ctx.getInput(Input.Schedules) : ''),
    [Input.Force]: () => (isTrue(given(Input.Remove)) ? 'true' : ctx.getInput(Input.Force)),
    // The folders handed to the app user are the preview's own, never production's.
    [Input.StaticRoot]: () => ownFolder(given(Input.StaticRoot)),
    [Input.MediaRoot]: () => ownFolder(given(Input.MediaRoot)),
    [Input.WritablePaths]: () =>
      ctx
        .getInput(Input.WritablePaths)
        .split(/\r?\n/)
        .map((line) => ownFolder(line.trim()))
        .join('\n'),
    ...(preview.domain ? { [Input.ServerName]: () => `${preview.name}.${preview.domain}` } : {})
  }
  const production = () => given(Input.DeployPath).replace(/\/+$/, '') || `/srv/${project()}`
  /** A folder below production's deploy path moved into the preview's; one elsewhere: `<path>-<name>`. */
  const ownFolder = (path: string) => {
    if (path === '') return ''
    const folder = path.replace(/\/+$/, '')
    const base = production()
    return folder === base || folder.startsWith(`${base}/`)
      ? `${base}-${preview.name}${folder.slice(base.length)}`
      : `${folder}-${preview.name}`
  }
  return {
    workspace: ctx.workspace,
    getInput: (name) => derived[name as Input]?.() ?? ctx.getInput(name)
  }
}

function isTrue(text: string): boolean {
  return /^(true|yes|on)$/i.test(text)
}

/** Production's app user (app-user, or the project name) with `-<name>`: a user of its own. */
function previewUser(appUser: string, projectName: string, preview: PreviewSettings): string {
  const base = appUser || projectName.toLowerCase().replace(/^_+/, '') || 'app'
  const user = `${base}-${preview.name}`
  if (user.length > MAX_USER)
    throw new InputError(
      Input.Preview,
      `gives the preview an app user longer than ${MAX_USER} characters (app-user-<name>): ` +
        `use a shorter preview name or app-user`
    )
  return user
}

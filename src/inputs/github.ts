// GitHub inputs: the token, and the environment and deployment the run reports to.

import { isIP } from 'node:net'
import { Input } from '../constants.js'
import type { HostAddress, Settings } from '../settings.js'
import { InputError, type InputReader, readUrl } from './read.js'

type GitHubSettings = Pick<
  Settings,
  'githubToken' | 'environment' | 'environmentUrl' | 'deployment'
>

/** What environment-url defaults to: the site's first name (or first host), https with TLS. */
export interface SiteAddress {
  tls: boolean
  serverNames: string[]
  firstHost: HostAddress
}

export function readGitHub(read: InputReader, site: SiteAddress): GitHubSettings {
  const environmentUrl = read.line(Input.EnvironmentUrl, 2048) || defaultEnvironmentUrl(site)
  readUrl(Input.EnvironmentUrl, environmentUrl)
  const environment = read.line(Input.Environment, 255)
  if (environment === '') throw new InputError(Input.Environment, 'must not be empty')
  return {
    githubToken: readToken(read.raw(Input.GithubToken)),
    environment,
    environmentUrl,
    deployment: read.bool(Input.Deployment)
  }
}

function defaultEnvironmentUrl({ tls, serverNames, firstHost }: SiteAddress): string {
  const host = isIP(firstHost.name) === 6 ? `[${firstHost.name}]` : firstHost.name
  const name = serverNames[0] === '_' || serverNames[0].includes('*') ? host : serverNames[0]
  return `${tls ? 'https' : 'http'}://${name.replace(/^\./, '')}`
}

function readToken(text: string): string {
  const token = text.trim()
  // It goes into an Authorization header; a message never repeats it.
  if (/[\s\u0000-\u001f\u007f]/.test(token) || token.length > 1024) {
    throw new InputError(
      Input.GithubToken,
      'must be one token (no spaces or line breaks), e.g. ${{ github.token }}'
    )
  }
  return token
}

// GitHub's own description of its REST API (npm package @octokit/openapi, OpenAPI 3.0) as a
// request validator: which operation a method and path are, and what is wrong with a request.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type JsonObject = { [key: string]: Json }

interface Parameter {
  name: string
  in: 'path' | 'query' | 'header' | 'cookie'
  required?: boolean
  schema: JsonObject
}

export interface Operation {
  id: string
  method: string
  /** as the description names it, e.g. /repos/{owner}/{repo}/deployments */
  template: string
  parameters: Parameter[]
  body?: { required: boolean; schema: JsonObject }
  /** JSON schema of the answer, by status */
  responses: Map<number, JsonObject>
  pattern: RegExp
  /** the path parameters' names, in the order of the pattern's groups */
  pathNames: string[]
  /** literal segments: a template with more of them wins over one with a parameter there */
  literals: number
}

export interface Match {
  operation: Operation
  pathParams: Record<string, string>
}

// $refs in the description point into the document (#/components/...); in ajv they point into
// the one schema that holds the components, under this id.
const COMPONENTS_ID = 'https://api.github.com/openapi.json'

export class ApiDescription {
  readonly version: string
  private readonly operations: Operation[] = []
  private readonly ajv: Ajv
  private readonly validators = new Map<string, ValidateFunction>()

  constructor(private readonly doc: JsonObject) {
    this.version = String((doc.info as JsonObject).version)
    const paths = doc.paths as Record<string, Record<string, JsonObject>>
    for (const [template, item] of Object.entries(paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue
        this.operations.push(this.operation(template, method, op))
      }
    }
    // strict: false lets the OpenAPI words ajv does not know pass (example, discriminator,
    // x-github); ajv knows OpenAPI 3.0's `nullable` itself.
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false })
    addFormats.default(this.ajv)
    this.ajv.addSchema({ $id: COMPONENTS_ID, components: doc.components as JsonObject })
  }

  /** The operation a method and path are, preferring literal segments over parameters. */
  find(method: string, path: string): Match | undefined {
    let best: Match | undefined
    for (const operation of this.operations) {
      if (operation.method !== method.toLowerCase()) continue
      const found = operation.pattern.exec(path)
      if (!found || (best && best.operation.literals >= operation.literals)) continue
      const values = found.slice(1)
      best = {
        operation,
        pathParams: Object.fromEntries(operation.pathNames.map((name, i) => [name, values[i]]))
      }
    }
    return best
  }

  /** What is wrong with a request to a matched operation (none: it is valid). */
  requestErrors(match: Match, query: URLSearchParams, body: unknown): string[] {
    const { operation } = match
    const errors: string[] = []
    for (const p of operation.parameters) {
      const raw = p.in === 'path' ? match.pathParams[p.name] : query.get(p.name)
      if (p.in !== 'path' && p.in !== 'query') continue
      if (raw === null || raw === undefined) {
        if (p.required) errors.push(`${p.in} parameter ${p.name} is required`)
        continue
      }
      const value = decodeURIComponent(raw)
      errors.push(...this.check(p.schema, fromText(value, p.schema), `${p.in} parameter ${p.name}`))
    }
    for (const name of query.keys()) {
      if (!operation.parameters.some((p) => p.in === 'query' && p.name === name))
        errors.push(`query parameter ${name} is not in the description`)
    }
    if (!operation.body) {
      if (body !== undefined) errors.push(`${operation.id} takes no request body`)
    } else if (body === undefined) {
      if (operation.body.required) errors.push(`${operation.id} requires a JSON body`)
    } else {
      errors.push(...this.check(closed(operation.body.schema), body, 'body'))
    }
    return errors
  }

  /** What is wrong with an answer (a test server's own answers are checked too). */
  responseErrors(operation: Operation, status: number, body: unknown): string[] {
    const schema = operation.responses.get(status)
    if (!schema) return [`${operation.id} has no ${status} answer in the description`]
    return this.check(schema, body, `${status} answer`)
  }

  private check(schema: JsonObject, value: unknown, what: string): string[] {
    const key = JSON.stringify(schema)
    let validate = this.validators.get(key)
    if (!validate) {
      validate = this.ajv.compile(withComponents(schema) as JsonObject)
      this.validators.set(key, validate)
    }
    return validate(value) ? [] : (validate.errors ?? []).map((e) => describeError(what, e))
  }

  private operation(template: string, method: string, op: JsonObject): Operation {
    const parameters = ((op.parameters ?? []) as JsonObject[]).map(
      (p) => this.resolve(p) as unknown as Parameter
    )
    const requestBody = op.requestBody
      ? (this.resolve(op.requestBody as JsonObject) as JsonObject)
      : undefined
    const bodySchema = (requestBody?.content as JsonObject | undefined)?.['application/json'] as
      JsonObject | undefined
    const responses = new Map<number, JsonObject>()
    for (const [status, answer] of Object.entries((op.responses ?? {}) as JsonObject)) {
      const content = (this.resolve(answer as JsonObject).content ?? {}) as JsonObject
      const schema = (content['application/json'] as JsonObject | undefined)?.schema
      if (/^\d+$/.test(status)) responses.set(Number(status), (schema ?? {}) as JsonObject)
    }
    const segments = template.split('/')
    const pathNames: string[] = []
    const pattern = template.replace(/\{([^}]+)\}|[^{}]+/g, (part, name?: string) => {
      if (!name) return escapeRegExp(part)
      pathNames.push(name)
      return '([^/]+)'
    })
    return {
      id: String(op.operationId),
      method,
      template,
      parameters,
      body: bodySchema
        ? { required: requestBody?.required === true, schema: bodySchema.schema as JsonObject }
        : undefined,
      responses,
      pattern: new RegExp(`^${pattern}$`),
      pathNames,
      literals: segments.filter((s) => s && !s.includes('{')).length
    }
  }

  /** Follows a local $ref (#/components/...) to what it names. */
  private resolve(node: JsonObject): JsonObject {
    let current = node
    while (typeof current.$ref === 'string') {
      current = current.$ref
        .slice(2)
        .split('/')
        .reduce<Json>(
          (at, key) => (at as JsonObject)[key.replace(/~1/g, '/').replace(/~0/g, '~')],
          this.doc
        ) as JsonObject
    }
    return current
  }
}

let loaded: ApiDescription | undefined

/** The api.github.com description, read once per process (13 MB of JSON). */
export function githubApi(): ApiDescription {
  const file = createRequire(import.meta.url).resolve(
    '@octokit/openapi/generated/api.github.com.json'
  )
  loaded ??= new ApiDescription(JSON.parse(readFileSync(file, 'utf8')) as JsonObject)
  return loaded
}

/**
 * GitHub ignores a body field it does not know; here it is an error, because in our own requests
 * it can only be a misspelt field whose value GitHub would silently drop.
 */
function closed(schema: JsonObject): JsonObject {
  if (schema.type !== 'object' || !schema.properties || 'additionalProperties' in schema)
    return schema
  return { ...schema, additionalProperties: false }
}

/** The schema with its #/components/... references pointed at the components schema. */
function withComponents(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(withComponents)
  if (schema === null || typeof schema !== 'object') return schema
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith('#/')
        ? `${COMPONENTS_ID}${value}`
        : withComponents(value)
    ])
  )
}

/** A path or query value is text; the schema may want a number or a boolean. */
function fromText(value: string, schema: JsonObject): unknown {
  if ((schema.type === 'integer' || schema.type === 'number') && /^-?\d+(\.\d+)?$/.test(value))
    return Number(value)
  if (schema.type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true'
  return value
}

function describeError(what: string, e: ErrorObject): string {
  const where = `${what}${e.instancePath}`
  if (e.keyword === 'additionalProperties')
    return `${where}: field ${String(e.params.additionalProperty)} is not in the description`
  return `${where} ${e.message ?? 'is invalid'}${e.keyword === 'enum' ? `: ${JSON.stringify(e.params.allowedValues)}` : ''}`
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

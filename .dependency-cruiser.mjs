// The layers of ARCHITECTURE.md ("Imports go one way"), held by `npm run lint`. Top to bottom:
// each layer may import only the layers below it; no module imports itself back through others;
// the runner's files are read in the modules named below, nowhere else.
// __tests__/layers.test.ts checks that these rules pass on src/ and catch what they must.

/** The layers, top first. A module of src/ is in exactly one. */
export const LAYERS = [
  { name: 'entry', path: '^src/(index|post|esm-globals)\\.ts$' },
  { name: 'main', path: '^src/main\\.ts$' },
  // The outside world: the inputs, SSH, GitHub, the runner's files and HTTP.
  {
    name: 'edges',
    path: '^src/((inputs|remote|report)/|(workspace|http-check|deploy-key|venv-source)\\.ts$)',
    edges: true
  },
  { name: 'flow', path: '^src/flow/' },
  { name: 'plan', path: '^src/(plan|rollout)\\.ts$' },
  { name: 'server', path: '^src/server/(?!layout\\.ts$)' },
  { name: 'render', path: '^src/render/' },
  // What every layer shares, pure: the Settings type, the ASGI vocabulary, the inputs' names and
  // values, every server path (server/layout.ts: the renderers need them too), sh``, the grammars,
  // the lock files' vocabulary and readers.
  {
    name: 'base',
    path: '^src/((settings|asgi|constants|shell)\\.ts$|server/layout\\.ts$|grammar/|lockfile/)'
  }
]

const edges = LAYERS.find((layer) => layer.edges)
const belowEdges = LAYERS.slice(LAYERS.indexOf(edges) + 1)

/**
 * `<layer>-imports-only-below`: a module of a layer imports no module of a layer above it. Below
 * the edges, an edge is left to `edges-only-as-types-below-main`.
 */
const layerRules = LAYERS.slice(1).map((layer, i) => {
  const above = LAYERS.slice(0, i + 1).filter((a) => !(belowEdges.includes(layer) && a.edges))
  return {
    name: `${layer.name}-imports-only-below`,
    comment: `${layer.name} imports only ${
      LAYERS.slice(i + 2)
        .map((below) => below.name)
        .join(', ') || 'nothing of src/'
    }`,
    severity: 'error',
    from: { path: layer.path },
    to: { path: above.map((a) => a.path) }
  }
})

export default {
  forbidden: [
    ...layerRules,
    {
      name: 'edges-only-as-types-below-main',
      comment:
        'remote/, report/, inputs/ and the runner are used by main; below it only their types ' +
        '(the interfaces the flow is given through HostDeps), never their code',
      severity: 'error',
      from: { path: belowEdges.map((layer) => layer.path) },
      to: { path: edges.path, dependencyTypesNot: ['type-only'] }
    },
    {
      name: 'no-circular',
      comment: 'no module imports itself back through others, types included',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true }
    },
    {
      name: 'every-module-in-a-layer',
      comment: 'a module of src/ that is in no layer of LAYERS',
      severity: 'error',
      from: {},
      to: { path: '^src/', pathNot: LAYERS.map((layer) => layer.path) }
    },
    {
      name: 'ssh-only-in-remote',
      comment: 'the SSH client is used in remote/ alone',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/remote/' },
      to: { path: '(^|/)node-ssh(/|$)' }
    },
    {
      name: 'github-only-in-report',
      comment: "GitHub's API is used in report/ alone",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/report/' },
      to: { path: '(^|/)@actions/github(/|$)' }
    },
    {
      name: 'runner-files-only-in-workspace-and-archive',
      comment:
        "the runner's files are read in workspace.ts (the requirements files) and " +
        'remote/archive.ts (the upload and its digest); besides them, deploy-key.ts reads the ' +
        "action's own code, server/python.ts its Python programs, and inputs/project.ts checks " +
        'that `source` is a folder',
      severity: 'error',
      from: {
        path: '^src/',
        pathNot:
          '^src/(workspace\\.ts|remote/archive\\.ts|deploy-key\\.ts|inputs/project\\.ts|server/python\\.ts)$'
      },
      to: { dependencyTypes: ['core'], path: '^(node:)?fs(/promises)?$' }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a cycle through a type is a cycle.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] }
  }
}

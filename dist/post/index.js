import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ var __webpack_modules__ = ({

/***/ 2613:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("assert");

/***/ }),

/***/ 4434:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("events");

/***/ }),

/***/ 9896:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("fs");

/***/ }),

/***/ 8611:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("http");

/***/ }),

/***/ 5692:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("https");

/***/ }),

/***/ 9278:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("net");

/***/ }),

/***/ 4589:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:assert");

/***/ }),

/***/ 6698:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:async_hooks");

/***/ }),

/***/ 4573:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:buffer");

/***/ }),

/***/ 7540:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:console");

/***/ }),

/***/ 7598:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:crypto");

/***/ }),

/***/ 3053:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:diagnostics_channel");

/***/ }),

/***/ 610:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:dns");

/***/ }),

/***/ 8474:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:events");

/***/ }),

/***/ 7067:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:http");

/***/ }),

/***/ 2467:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:http2");

/***/ }),

/***/ 7030:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:net");

/***/ }),

/***/ 643:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:perf_hooks");

/***/ }),

/***/ 1792:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:querystring");

/***/ }),

/***/ 7075:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:stream");

/***/ }),

/***/ 1692:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:tls");

/***/ }),

/***/ 3136:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:url");

/***/ }),

/***/ 7975:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:util");

/***/ }),

/***/ 3429:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:util/types");

/***/ }),

/***/ 5919:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:worker_threads");

/***/ }),

/***/ 8522:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:zlib");

/***/ }),

/***/ 857:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("os");

/***/ }),

/***/ 3193:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("string_decoder");

/***/ }),

/***/ 4756:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("tls");

/***/ }),

/***/ 9023:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("util");

/***/ })

/******/ });
/************************************************************************/
/******/ // The module cache
/******/ var __webpack_module_cache__ = {};
/******/ 
/******/ // The require function
/******/ function __nccwpck_require__(moduleId) {
/******/ 	// Check if module is in cache
/******/ 	var cachedModule = __webpack_module_cache__[moduleId];
/******/ 	if (cachedModule !== undefined) {
/******/ 		return cachedModule.exports;
/******/ 	}
/******/ 	// Create a new module (and put it into the cache)
/******/ 	var module = __webpack_module_cache__[moduleId] = {
/******/ 		// no module.id needed
/******/ 		// no module.loaded needed
/******/ 		exports: {}
/******/ 	};
/******/ 
/******/ 	// Execute the module function
/******/ 	var threw = true;
/******/ 	try {
/******/ 		__webpack_modules__[moduleId].call(module.exports, module, module.exports, __nccwpck_require__);
/******/ 		threw = false;
/******/ 	} finally {
/******/ 		if(threw) delete __webpack_module_cache__[moduleId];
/******/ 	}
/******/ 
/******/ 	// Return the exports of the module
/******/ 	return module.exports;
/******/ }
/******/ 
/******/ // expose the modules object (__webpack_modules__)
/******/ __nccwpck_require__.m = __webpack_modules__;
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/asset-relocator-loader */
/******/ if (typeof __nccwpck_require__ !== 'undefined') __nccwpck_require__.ab = decodeURIComponent(new URL('.', import.meta.url).pathname).slice(import.meta.url.match(/^file:\/\/\/\w:/) ? 1 : 0, -1) + "/";
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/ensure chunk */
/******/ (() => {
/******/ 	__nccwpck_require__.f = {};
/******/ 	// This file contains only the entry chunk.
/******/ 	// The chunk loading function for additional chunks
/******/ 	__nccwpck_require__.e = (chunkId) => {
/******/ 		return Promise.all(Object.keys(__nccwpck_require__.f).reduce((promises, key) => {
/******/ 			__nccwpck_require__.f[key](chunkId, promises);
/******/ 			return promises;
/******/ 		}, []));
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/get javascript chunk filename */
/******/ (() => {
/******/ 	// This function allow to reference async chunks
/******/ 	__nccwpck_require__.u = (chunkId) => {
/******/ 		// return url for filenames based on template
/******/ 		return "" + chunkId + ".index.js";
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/******/ /* webpack/runtime/make namespace object */
/******/ (() => {
/******/ 	// define __esModule on exports
/******/ 	__nccwpck_require__.r = (exports) => {
/******/ 		if(typeof Symbol !== 'undefined' && Symbol.toStringTag) {
/******/ 			Object.defineProperty(exports, Symbol.toStringTag, { value: 'Module' });
/******/ 		}
/******/ 		Object.defineProperty(exports, '__esModule', { value: true });
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/import chunk loading */
/******/ (() => {
/******/ 	// no baseURI
/******/ 	
/******/ 	// object to store loaded and loading chunks
/******/ 	// undefined = chunk not loaded, null = chunk preloaded/prefetched
/******/ 	// [resolve, Promise] = chunk loading, 0 = chunk loaded
/******/ 	var installedChunks = {
/******/ 		792: 0
/******/ 	};
/******/ 	
/******/ 	var installChunk = (data) => {
/******/ 		var {ids, modules, runtime} = data;
/******/ 		// add "modules" to the modules object,
/******/ 		// then flag all "ids" as loaded and fire callback
/******/ 		var moduleId, chunkId, i = 0;
/******/ 		for(moduleId in modules) {
/******/ 			if(__nccwpck_require__.o(modules, moduleId)) {
/******/ 				__nccwpck_require__.m[moduleId] = modules[moduleId];
/******/ 			}
/******/ 		}
/******/ 		if(runtime) runtime(__nccwpck_require__);
/******/ 		for(;i < ids.length; i++) {
/******/ 			chunkId = ids[i];
/******/ 			if(__nccwpck_require__.o(installedChunks, chunkId) && installedChunks[chunkId]) {
/******/ 				installedChunks[chunkId][0]();
/******/ 			}
/******/ 			installedChunks[ids[i]] = 0;
/******/ 		}
/******/ 	
/******/ 	}
/******/ 	
/******/ 	__nccwpck_require__.f.j = (chunkId, promises) => {
/******/ 			// import() chunk loading for javascript
/******/ 			var installedChunkData = __nccwpck_require__.o(installedChunks, chunkId) ? installedChunks[chunkId] : undefined;
/******/ 			if(installedChunkData !== 0) { // 0 means "already installed".
/******/ 	
/******/ 				// a Promise means "currently loading".
/******/ 				if(installedChunkData) {
/******/ 					promises.push(installedChunkData[1]);
/******/ 				} else {
/******/ 					if(true) { // all chunks have JS
/******/ 						// setup Promise in chunk cache
/******/ 						var promise = import("./" + __nccwpck_require__.u(chunkId)).then(installChunk, (e) => {
/******/ 							if(installedChunks[chunkId] !== 0) installedChunks[chunkId] = undefined;
/******/ 							throw e;
/******/ 						});
/******/ 						var promise = Promise.race([promise, new Promise((resolve) => (installedChunkData = installedChunks[chunkId] = [resolve]))])
/******/ 						promises.push(installedChunkData[1] = promise);
/******/ 					}
/******/ 				}
/******/ 			}
/******/ 	};
/******/ 	
/******/ 	// no prefetching
/******/ 	
/******/ 	// no preloaded
/******/ 	
/******/ 	// no external install chunk
/******/ 	
/******/ 	// no on chunks loaded
/******/ })();
/******/ 
/************************************************************************/
var __webpack_exports__ = {};

;// CONCATENATED MODULE: external "node:path"
const external_node_path_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:path");
// EXTERNAL MODULE: external "node:url"
var external_node_url_ = __nccwpck_require__(3136);
;// CONCATENATED MODULE: ./src/esm-globals.ts
// Imported first by the entry: ssh2's bundled emscripten code reads __dirname, which ES modules
// do not have. Defining it before anything else is evaluated keeps the bundle starting.


const globals = globalThis;
globals.__filename ??= (0,external_node_url_.fileURLToPath)(import.meta.url);
globals.__dirname ??= (0,external_node_path_namespaceObject.dirname)(globals.__filename);

// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __nccwpck_require__(7598);
;// CONCATENATED MODULE: external "node:fs"
const external_node_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");
;// CONCATENATED MODULE: external "node:os"
const external_node_os_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:os");
;// CONCATENATED MODULE: ./src/core.ts
// The runner's interface, as the action uses it: inputs, outputs, state for the post step, log
// commands, masking, the job summary. The same behaviour as @actions/core (its tests compare the
// two, byte for byte), without what the action never uses: @actions/core loads an HTTP client
// (undici) for OIDC tokens at import, half of the start-up before the first SSH byte.



const commandValue = (value) => value === null || value === undefined
    ? ''
    : typeof value === 'string'
        ? value
        : JSON.stringify(value);
const escapeData = (value) => commandValue(value).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (value) => escapeData(value).replace(/:/g, '%3A').replace(/,/g, '%2C');
/** `::name key=value,...::message`, one line on stdout: the runner reads it as a command. */
function issue(name, properties, message) {
    const props = Object.entries(properties)
        .filter(([, value]) => value)
        .map(([key, value]) => `${key}=${escapeProperty(value)}`)
        .join(',');
    // A space after the name whenever properties were given, even all empty (as @actions/core).
    const space = Object.keys(properties).length ? ' ' : '';
    process.stdout.write(`::${name}${space}${props}::${escapeData(message)}${external_node_os_namespaceObject.EOL}`);
}
/** Appends `key<<delimiter` lines to the runner's file named by GITHUB_<file>. */
function appendKeyValue(file, key, value) {
    const path = process.env[`GITHUB_${file}`];
    // A random delimiter the value cannot end early (checked, as @actions/core does).
    const delimiter = `ghadelimiter_${randomUUID()}`;
    const text = commandValue(value);
    if (key.includes(delimiter) || text.includes(delimiter))
        throw new Error(`Unexpected input: the name or value contains the delimiter "${delimiter}"`);
    if (!existsSync(path))
        throw new Error(`Missing file at path: ${path}`);
    appendFileSync(path, `${key}<<${delimiter}${EOL}${text}${EOL}${delimiter}${EOL}`, 'utf8');
}
function getInput(name, options) {
    const value = process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '';
    if (options?.required && !value)
        throw new Error(`Input required and not supplied: ${name}`);
    return options?.trimWhitespace === false ? value : value.trim();
}
function setOutput(name, value) {
    if (process.env.GITHUB_OUTPUT)
        return appendKeyValue('OUTPUT', name, value);
    process.stdout.write(EOL);
    issue('set-output', { name }, value);
}
/** Kept for the post step, which reads it with getState. */
function saveState(name, value) {
    if (process.env.GITHUB_STATE)
        return appendKeyValue('STATE', name, value);
    issue('save-state', { name }, value);
}
const getState = (name) => process.env[`STATE_${name}`] || '';
/** The runner replaces the value by *** in the log from here on. */
const setSecret = (secret) => issue('add-mask', {}, secret);
const info = (message) => void process.stdout.write(message + external_node_os_namespaceObject.EOL);
function annotate(kind, message, p) {
    const properties = Object.keys(p).length
        ? {
            title: p.title,
            file: p.file,
            line: p.startLine,
            endLine: p.endLine,
            col: p.startColumn,
            endColumn: p.endColumn
        }
        : {};
    issue(kind, properties, message instanceof Error ? message.toString() : message);
}
const error = (message, properties = {}) => annotate('error', message, properties);
const warning = (message, properties = {}) => annotate('warning', message, properties);
const notice = (message, properties = {}) => annotate('notice', message, properties);
/** Fails the step (exit code 1 when the process ends) with an error annotation. */
function setFailed(message) {
    process.exitCode = 1;
    error(message);
}
/** A foldable group in the log around `body`. */
async function group(name, body) {
    issue('group', {}, name);
    try {
        return await body();
    }
    finally {
        issue('endgroup', {}, '');
    }
}
/** Appends Markdown to the job summary (the file GITHUB_STEP_SUMMARY names). */
async function appendSummary(markdown) {
    const path = process.env.GITHUB_STEP_SUMMARY;
    if (!path)
        throw new Error('Unable to find environment variable for $GITHUB_STEP_SUMMARY. Check if your runtime environment supports job summaries.');
    try {
        accessSync(path, constants.R_OK | constants.W_OK);
    }
    catch {
        throw new Error(`Unable to access summary file: '${path}'. Check if the file has correct read/write permissions.`);
    }
    appendFileSync(path, markdown, 'utf8');
}

;// CONCATENATED MODULE: ./src/constants.ts
// Input and output names are the action's contract with its users' workflows (action.yml).
var Input;
(function (Input) {
    Input["Host"] = "host";
    Input["Port"] = "port";
    Input["Username"] = "username";
    Input["Key"] = "key";
    Input["Passphrase"] = "passphrase";
    Input["Password"] = "password";
    Input["KnownHosts"] = "known-hosts";
    Input["Fingerprint"] = "fingerprint";
    Input["InsecureSkipHostKeyCheck"] = "insecure-skip-host-key-check";
    Input["JumpHost"] = "jump-host";
    Input["Timeout"] = "timeout";
    Input["CommandTimeout"] = "command-timeout";
    Input["ProjectName"] = "project-name";
    Input["WsgiModule"] = "wsgi-module";
    Input["SettingsModule"] = "settings-module";
    Input["DeployPath"] = "deploy-path";
    Input["Source"] = "source";
    Input["Exclude"] = "exclude";
    Input["Requirements"] = "requirements";
    Input["Python"] = "python";
    Input["SystemSitePackages"] = "system-site-packages";
    Input["Dotenv"] = "dotenv";
    Input["Migrate"] = "migrate";
    Input["Collectstatic"] = "collectstatic";
    Input["CheckDeploy"] = "check-deploy";
    Input["PreRestart"] = "pre-restart";
    Input["PostDeploy"] = "post-deploy";
    Input["SharedPaths"] = "shared-paths";
    Input["WritablePaths"] = "writable-paths";
    Input["BuildCommands"] = "build-commands";
    Input["KeepReleases"] = "keep-releases";
    Input["AppUser"] = "app-user";
    Input["Workers"] = "workers";
    Input["GunicornArgs"] = "gunicorn-args";
    Input["AsgiModule"] = "asgi-module";
    Input["AsgiServer"] = "asgi-server";
    Input["ProxyReadTimeout"] = "proxy-read-timeout";
    Input["ServerName"] = "server-name";
    Input["Listen"] = "listen";
    Input["StaticUrl"] = "static-url";
    Input["StaticRoot"] = "static-root";
    Input["MediaUrl"] = "media-url";
    Input["MediaRoot"] = "media-root";
    Input["ClientMaxBodySize"] = "client-max-body-size";
    Input["NginxDirectives"] = "nginx-directives";
    Input["TlsCertificate"] = "tls-certificate";
    Input["TlsCertificateKey"] = "tls-certificate-key";
    Input["Tls"] = "tls";
    Input["TlsListen"] = "tls-listen";
    Input["Hsts"] = "hsts";
    Input["AcmeEmail"] = "acme-email";
    Input["AcmeDirectory"] = "acme-directory";
    Input["AcmeDirectoryCa"] = "acme-directory-ca";
    Input["HealthPath"] = "health-path";
    Input["HealthExpect"] = "health-expect";
    Input["HealthTimeout"] = "health-timeout";
    Input["HealthUrl"] = "health-url";
    Input["DrainTimeout"] = "drain-timeout";
    Input["GithubToken"] = "github-token";
    Input["Environment"] = "environment";
    Input["EnvironmentUrl"] = "environment-url";
    Input["Deployment"] = "deployment";
    Input["DryRun"] = "dry-run";
    Input["Rollback"] = "rollback";
    Input["MaxParallel"] = "max-parallel";
    Input["LockWait"] = "lock-wait";
    Input["Processes"] = "processes";
    Input["Schedules"] = "schedules";
    Input["ProcessStopTimeout"] = "process-stop-timeout";
    Input["SingletonHost"] = "singleton-host";
    Input["Backup"] = "backup";
    Input["RestoreDatabase"] = "restore-database";
    Input["Force"] = "force";
})(Input || (Input = {}));
/**
 * Defaults applied when an input is empty. action.yml declares the same values (a test checks
 * they agree); they live here too because a runner passes no default for an input that a
 * workflow sets to ''. Defaults derived from other inputs are computed in settings.ts.
 */
const INPUT_DEFAULTS = {
    [Input.Port]: '22',
    [Input.InsecureSkipHostKeyCheck]: 'false',
    [Input.Timeout]: '30',
    [Input.CommandTimeout]: '600',
    [Input.Source]: '.',
    [Input.Requirements]: 'requirements.txt',
    [Input.Python]: 'python3',
    [Input.SystemSitePackages]: 'false',
    [Input.Migrate]: 'true',
    [Input.Collectstatic]: 'true',
    [Input.CheckDeploy]: 'false',
    [Input.KeepReleases]: '5',
    [Input.Workers]: 'auto',
    [Input.AsgiServer]: 'uvicorn',
    [Input.ServerName]: '_',
    [Input.Listen]: '80',
    [Input.ClientMaxBodySize]: '10m',
    [Input.TlsListen]: '443',
    [Input.Hsts]: '0',
    [Input.AcmeDirectory]: 'https://acme-v02.api.letsencrypt.org/directory',
    [Input.HealthPath]: '/',
    [Input.HealthExpect]: '200-499',
    [Input.HealthTimeout]: '60',
    [Input.DrainTimeout]: '30',
    [Input.Environment]: 'production',
    [Input.Deployment]: 'true',
    [Input.DryRun]: 'false',
    [Input.Rollback]: 'false',
    [Input.MaxParallel]: '1',
    [Input.LockWait]: '300',
    [Input.ProcessStopTimeout]: '300',
    [Input.Backup]: 'true',
    [Input.RestoreDatabase]: 'false',
    [Input.Force]: 'false'
};
/**
 * Left out of the upload unless a `!pattern` of the exclude input takes one back: the input's
 * patterns add to these. (.git and credential files are never uploaded: remote/archive.ts.)
 */
const DEFAULT_EXCLUDE = (/* unused pure expression or super */ null && (['__pycache__', '*.pyc', '.venv', 'node_modules']));
var Output;
(function (Output) {
    Output["Status"] = "status";
    Output["Release"] = "release";
    Output["PreviousRelease"] = "previous-release";
    Output["Url"] = "url";
    Output["HttpStatus"] = "http-status";
    Output["HealthDurationMs"] = "health-duration-ms";
    Output["DeploymentId"] = "deployment-id";
    Output["Interface"] = "interface";
    Output["WorkerClass"] = "worker-class";
    Output["Hosts"] = "hosts";
    Output["Migrations"] = "migrations";
    Output["DatabaseBackup"] = "database-backup";
    Output["SchemaAhead"] = "schema-ahead";
})(Output || (Output = {}));

;// CONCATENATED MODULE: ./src/report/deployment.ts
// The only code that speaks to GitHub's REST API: the run's deployment and its statuses.
// Reporting never fails or stops a deploy: every API error becomes one warning, then silence.

/** Names under which the main step leaves the deployment to the post step (core.saveState). */
const DeploymentState = { Id: 'deployment-id', Final: 'deployment-final' };
/** GitHub refuses longer descriptions with a 422. */
const DESCRIPTION_MAX = 140;
// Long enough for a slow API, short enough that an unreachable one costs the deploy little.
const REQUEST_TIMEOUT_MS = 20_000;
/** One line of at most 140 characters (code points, as GitHub counts them). */
function statusDescription(text) {
    const chars = Array.from(text.replace(/\s+/g, ' ').trim());
    return chars.length <= DESCRIPTION_MAX
        ? chars.join('')
        : `${chars.slice(0, DESCRIPTION_MAX - 1).join('')}…`;
}
/** The final status for the run's host reports: a rolled-back deploy is a failed one. */
function deploymentOutcome(reports) {
    if (reports.length > 0 && reports.every((r) => r.status === 'success')) {
        const release = reports[0]?.release ?? '';
        return [
            'success',
            `Deployed ${release} to ${reports.map((r) => r.host).join(', ')}${processesNote(reports)}`
        ];
    }
    const failed = reports.find((r) => r.status !== 'success' && r.status !== 'skipped');
    const why = failed?.message.split('\n')[0] ?? '';
    return [
        'failure',
        (failed ? `${failed.host} ${failed.status}: ${why}` : 'Deploy failed') + processesNote(reports)
    ];
}
/** Which processes run which release, e.g. "; worker, beat on 20261125T081500Z-1a2b3c4". */
function processesNote(reports) {
    const byRelease = new Map();
    for (const r of reports)
        for (const p of r.processes ?? []) {
            if (p.state !== 'active')
                continue;
            byRelease.set(p.release, (byRelease.get(p.release) ?? new Set()).add(p.name));
        }
    return [...byRelease]
        .map(([release, names]) => `; ${[...names].join(', ')} on ${release}`)
        .join('');
}
/** The in-progress text of a rolling deploy after a batch, e.g. "2/3 hosts on <release>". */
function rolloutProgress(done, hostCount) {
    const healthy = done.filter((r) => r.status === 'success');
    return `${healthy.length}/${hostCount} hosts on ${done[0]?.release ?? ''}`;
}
function createDeployments(s, env = process.env) {
    const skip = reasonToSkip(s, env);
    if (skip) {
        if (s.deployment)
            core.info(`No GitHub deployment: ${skip}.`);
        return NO_DEPLOYMENT;
    }
    return new GitHubDeployment(s, repositoryApi(s.githubToken, env), env);
}
function reasonToSkip(s, env) {
    if (!s.deployment)
        return 'deployment is false';
    if (s.dryRun)
        return 'a dry run creates none';
    if (!s.githubToken)
        return 'github-token is empty';
    if (!REPOSITORY.test(env.GITHUB_REPOSITORY ?? ''))
        return 'GITHUB_REPOSITORY is not set';
    if (!env.GITHUB_SHA && !env.GITHUB_REF_NAME)
        return 'the run names no commit (GITHUB_SHA)';
    return '';
}
const REPOSITORY = /^[\w.-]+\/[\w.-]+$/;
const NO_DEPLOYMENT = {
    id: undefined,
    start: async () => { },
    progress: async () => { },
    finish: async () => { }
};
function repositoryApi(token, env) {
    // @actions/github reads GITHUB_API_URL when it is first imported; passing it here also
    // honours a value set later (the tests' contract server).
    let client;
    const octokit = () => (client ??= __nccwpck_require__.e(/* import() */ 413).then(__nccwpck_require__.bind(__nccwpck_require__, 2413)).then((github) => github.getOctokit(token, { baseUrl: env.GITHUB_API_URL || 'https://api.github.com' })));
    const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
    const server = env.GITHUB_SERVER_URL || 'https://github.com';
    return {
        octokit,
        owner,
        repo,
        logUrl: `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID ?? ''}`
    };
}
class GitHubDeployment {
    s;
    api;
    env;
    id;
    /** set by the first failed call: later calls would fail the same way, each after a timeout */
    stopped = false;
    constructor(s, api, env) {
        this.s = s;
        this.api = api;
        this.env = env;
    }
    async start() {
        const { s, api, env } = this;
        const refName = env.GITHUB_REF_NAME || env.GITHUB_SHA?.slice(0, 7) || '';
        const hosts = s.hosts.map((h) => h.name).join(', ');
        const production = s.environment === 'production';
        await this.call('create the deployment', async () => {
            const { data } = await (await api.octokit()).rest.repos.createDeployment({
                owner: api.owner,
                repo: api.repo,
                // The commit itself: a tag or branch may move while the deploy runs.
                ref: env.GITHUB_SHA || env.GITHUB_REF_NAME,
                auto_merge: false,
                // The workflow already decided to deploy; commit statuses are not GitHub's to check here.
                required_contexts: [],
                environment: s.environment,
                production_environment: production,
                transient_environment: !production,
                description: statusDescription(`${s.rollback ? 'Rollback' : 'Deploy'} of ${refName}`),
                task: s.rollback ? 'deploy:rollback' : 'deploy',
                request: { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }
            });
            // 202 (an auto-merge answer) carries no deployment; auto_merge is off, but be sure.
            if (!('id' in data))
                throw new Error(data.message ?? 'GitHub created no deployment');
            this.id = data.id;
            core.saveState(DeploymentState.Id, String(data.id));
        });
        await this.status('in_progress', `${s.rollback ? 'Rolling back' : 'Deploying'} ${refName} to ${hosts}`);
    }
    progress(description) {
        return this.status('in_progress', description);
    }
    async finish(state, description) {
        if (this.id === undefined)
            return;
        const url = state === 'success' && this.s.environmentUrl;
        await this.status(state, description, url ? { environment_url: url } : {});
        // Reached even when the call failed: the post step is for a main step that never got here.
        core.saveState(DeploymentState.Final, 'true');
    }
    async status(state, description, extra = {}) {
        const { api, id } = this;
        if (id === undefined)
            return;
        await this.call(`post the ${state} status`, () => postStatus(api, id, state, description, extra));
    }
    async call(what, request) {
        if (this.stopped)
            return;
        try {
            await request();
        }
        catch (error) {
            this.stopped = true;
            warnApiError(what, error);
        }
    }
}
async function postStatus(api, id, state, description, extra = {}) {
    return (await api.octokit()).rest.repos.createDeploymentStatus({
        owner: api.owner,
        repo: api.repo,
        deployment_id: id,
        state,
        description: statusDescription(description),
        log_url: api.logUrl,
        ...extra,
        request: { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }
    });
}
/** 403 and 404 mean the token may not write deployments: say what to add to the workflow. */
function warnApiError(what, error, outcome = 'The deploy went on without a GitHub deployment status.') {
    const status = error.status;
    const message = error instanceof Error ? error.message : String(error);
    if (status === 403 || status === 404) {
        warning(`Could not ${what}: GitHub answered ${status} (${message}). The token may not write ` +
            'deployments. Give the job the permission in the workflow:\n' +
            `permissions:\n  contents: read\n  deployments: write\n${outcome}`, { title: 'No deployment status: add permissions: deployments: write' });
    }
    else {
        warning(`Could not ${what} on GitHub (${message}). ${outcome}`, {
            title: 'Deployment status not posted'
        });
    }
}
/**
 * The post step: a deployment the main step created but never finished (the job was cancelled,
 * or the process was killed) is marked `error` instead of staying in progress for ever.
 */
async function markUnfinishedDeployment(token, env = process.env) {
    const id = Number(getState(DeploymentState.Id));
    if (!id || getState(DeploymentState.Final) === 'true')
        return;
    if (!token || !REPOSITORY.test(env.GITHUB_REPOSITORY ?? ''))
        return;
    try {
        await postStatus(repositoryApi(token, env), id, 'error', 'The deploy step ended without reporting (cancelled or killed)');
        info(`Marked deployment ${id} as error: the deploy step ended without reporting.`);
    }
    catch (error) {
        warnApiError(`mark deployment ${id} as error`, error, 'The deployment may still show as in progress.');
    }
}

;// CONCATENATED MODULE: ./src/post.ts
// The post step (action.yml `post:`, run with `post-if: always()`): closes a deployment that the
// main step left in progress. It reads one input, the token, itself: the full settings would pull
// the SSH code into this bundle. It never fails the job.




markUnfinishedDeployment(getInput(Input.GithubToken)).catch((error) => {
    warning(`The post step could not check the deployment: ${String(error)}`);
});


import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ var __webpack_modules__ = ({

/***/ 1938:
/***/ ((module, __webpack_exports__, __nccwpck_require__) => {

__nccwpck_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   $e: () => (/* binding */ warning),
/* harmony export */   C1: () => (/* binding */ setFailed),
/* harmony export */   Gu: () => (/* binding */ getState),
/* harmony export */   LZ: () => (/* binding */ saveState),
/* harmony export */   Os: () => (/* binding */ group),
/* harmony export */   Pq: () => (/* binding */ setSecret),
/* harmony export */   V4: () => (/* binding */ getInput),
/* harmony export */   Yz: () => (/* binding */ debug),
/* harmony export */   n0: () => (/* binding */ setOutputs),
/* harmony export */   pq: () => (/* binding */ info),
/* harmony export */   z: () => (/* binding */ summary)
/* harmony export */ });
/* unused harmony exports setOutput, error */
/* harmony import */ var node_os__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(8161);
/* harmony import */ var node_os__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_os__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _node_modules_actions_core_lib_command_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(9635);
/* harmony import */ var _node_modules_actions_core_lib_file_command_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(7063);
/* harmony import */ var _node_modules_actions_core_lib_summary_js__WEBPACK_IMPORTED_MODULE_3__ = __nccwpck_require__(1170);
/* harmony import */ var _node_modules_actions_core_lib_utils_js__WEBPACK_IMPORTED_MODULE_4__ = __nccwpck_require__(4679);
/**
 * The parts of @actions/core this action uses, built on @actions/core's own modules (the workflow
 * command and file command encoders, the job summary). Its index module also loads an HTTP client
 * (for OIDC tokens, which we never ask for) and @actions/exec: 150 ms of every step's start on a
 * 2-core runner, more than all the rest of the bundle. The functions below are those of
 * @actions/core 3.x, line for line, so its escaping of commands and file-command delimiters is
 * what runs.
 */





/**
 * Run from the source (tsx under @github/local-action, which stubs @actions/core's index to
 * capture outputs and state, or a test), every call goes to the real @actions/core instead. The
 * bundle never loads it: webpackIgnore leaves the import to run time, and it never runs there.
 */
const real = new URL(import.meta.url).pathname.endsWith('.ts')
    ? await import(/* webpackIgnore: true */ '@actions/core')
    : undefined;
const summary = real?.summary ?? _node_modules_actions_core_lib_summary_js__WEBPACK_IMPORTED_MODULE_3__/* .summary */ .z;
function getInput(name) {
    if (real)
        return real.getInput(name);
    return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '').trim();
}
function setOutput(name, value) {
    if (real) {
        real.setOutput(name, value);
        return;
    }
    if (process.env.GITHUB_OUTPUT) {
        (0,_node_modules_actions_core_lib_file_command_js__WEBPACK_IMPORTED_MODULE_2__/* .issueFileCommand */ .n)('OUTPUT', (0,_node_modules_actions_core_lib_file_command_js__WEBPACK_IMPORTED_MODULE_2__/* .prepareKeyValueMessage */ .v)(name, value));
        return;
    }
    process.stdout.write(node_os__WEBPACK_IMPORTED_MODULE_0__.EOL);
    (0,_node_modules_actions_core_lib_command_js__WEBPACK_IMPORTED_MODULE_1__/* .issueCommand */ .L)('set-output', { name }, (0,_node_modules_actions_core_lib_utils_js__WEBPACK_IMPORTED_MODULE_4__/* .toCommandValue */ .E)(value));
}
/**
 * setOutput for many outputs at once: the same file-command text, appended in one write rather
 * than one open, write and close per output (~25 of them at the end of every deploy).
 */
function setOutputs(outputs) {
    const entries = Object.entries(outputs);
    if (real || !process.env.GITHUB_OUTPUT) {
        for (const [name, value] of entries)
            setOutput(name, value);
        return;
    }
    if (entries.length === 0)
        return;
    (0,_node_modules_actions_core_lib_file_command_js__WEBPACK_IMPORTED_MODULE_2__/* .issueFileCommand */ .n)('OUTPUT', entries.map(([name, value]) => (0,_node_modules_actions_core_lib_file_command_js__WEBPACK_IMPORTED_MODULE_2__/* .prepareKeyValueMessage */ .v)(name, value)).join(node_os__WEBPACK_IMPORTED_MODULE_0__.EOL));
}
function saveState(name, value) {
    if (real) {
        real.saveState(name, value);
        return;
    }
    if (process.env.GITHUB_STATE) {
        (0,_node_modules_actions_core_lib_file_command_js__WEBPACK_IMPORTED_MODULE_2__/* .issueFileCommand */ .n)('STATE', (0,_node_modules_actions_core_lib_file_command_js__WEBPACK_IMPORTED_MODULE_2__/* .prepareKeyValueMessage */ .v)(name, value));
        return;
    }
    (0,_node_modules_actions_core_lib_command_js__WEBPACK_IMPORTED_MODULE_1__/* .issueCommand */ .L)('save-state', { name }, (0,_node_modules_actions_core_lib_utils_js__WEBPACK_IMPORTED_MODULE_4__/* .toCommandValue */ .E)(value));
}
function getState(name) {
    if (real)
        return real.getState(name);
    return process.env[`STATE_${name}`] || '';
}
function setSecret(secret) {
    if (real) {
        real.setSecret(secret);
        return;
    }
    (0,_node_modules_actions_core_lib_command_js__WEBPACK_IMPORTED_MODULE_1__/* .issueCommand */ .L)('add-mask', {}, secret);
}
function debug(message) {
    if (real) {
        real.debug(message);
        return;
    }
    (0,_node_modules_actions_core_lib_command_js__WEBPACK_IMPORTED_MODULE_1__/* .issueCommand */ .L)('debug', {}, message);
}
function info(message) {
    if (real) {
        real.info(message);
        return;
    }
    process.stdout.write(message + node_os__WEBPACK_IMPORTED_MODULE_0__.EOL);
}
function warning(message) {
    if (real) {
        real.warning(message);
        return;
    }
    (0,_node_modules_actions_core_lib_command_js__WEBPACK_IMPORTED_MODULE_1__/* .issueCommand */ .L)('warning', (0,_node_modules_actions_core_lib_utils_js__WEBPACK_IMPORTED_MODULE_4__/* .toCommandProperties */ .k)({}), message);
}
function error(message) {
    if (real) {
        real.error(message);
        return;
    }
    (0,_node_modules_actions_core_lib_command_js__WEBPACK_IMPORTED_MODULE_1__/* .issueCommand */ .L)('error', (0,_node_modules_actions_core_lib_utils_js__WEBPACK_IMPORTED_MODULE_4__/* .toCommandProperties */ .k)({}), message);
}
function setFailed(message) {
    if (real) {
        real.setFailed(message);
        return;
    }
    process.exitCode = 1;
    error(message);
}
async function group(name, fn) {
    if (real)
        return real.group(name, fn);
    (0,_node_modules_actions_core_lib_command_js__WEBPACK_IMPORTED_MODULE_1__/* .issue */ .s)('group', name);
    try {
        return await fn();
    }
    finally {
        (0,_node_modules_actions_core_lib_command_js__WEBPACK_IMPORTED_MODULE_1__/* .issue */ .s)('endgroup');
    }
}

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } }, 1);

/***/ }),

/***/ 8204:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   g: () => (/* binding */ childEnv)
/* harmony export */ });
/**
 * The environment child processes (ssh, rsync, ssh-keygen, git) get. The runner hands every
 * input to the action as INPUT_* (the key, its passphrase), and a CI job holds its secrets in
 * variables (RAD_KEY, tokens): a child, and whatever it runs (a ProxyCommand, a wrapper, a
 * debugger reading /proc/PID/environ), must not see them.
 */
/** What ssh and rsync need when we generate their whole setup (the action; the CLI with --key). */
const NEEDED = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR|TERM)$/;
/** Names that carry secrets or the runner's credentials, whatever else is passed. */
const SECRET_NAME = /^(INPUT_.*|STATE_.*|RAD_KEY.*|RAD_KNOWN_HOSTS.*|ACTIONS_RUNTIME_TOKEN|ACTIONS_ID_TOKEN_REQUEST_.*|ACTIONS_CACHE_URL|ACTIONS_RESULTS_URL|GITHUB_TOKEN|GH_TOKEN|CI_JOB_TOKEN)$/i;
/** `env` without the secrets (and, unless `own`, without anything a child does not need). */
function childEnv(env, opts = {}) {
    const secrets = (opts.secrets ?? []).filter((s) => s !== '');
    const out = {};
    for (const [name, value] of Object.entries(env)) {
        if (value === undefined || SECRET_NAME.test(name))
            continue;
        if (!opts.own && !NEEDED.test(name))
            continue;
        // A key under another name (--key-env NAME) or pasted into some variable.
        if (/PRIVATE KEY-----/.test(value) || secrets.includes(value))
            continue;
        out[name] = value;
    }
    return out;
}


/***/ }),

/***/ 3916:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   d: () => (/* binding */ InputError),
/* harmony export */   s: () => (/* binding */ DeployError)
/* harmony export */ });
/** A failure a user can act on: what went wrong and what to do about it. */
class DeployError extends Error {
    hint;
    code;
    constructor(message, hint = '', code = 'failed') {
        super(message);
        this.hint = hint;
        this.code = code;
        this.name = 'DeployError';
    }
    toString() {
        return this.hint ? `${this.message}\n${this.hint}` : this.message;
    }
}
/** A value given to an input that we refuse before anything touches the network. */
class InputError extends DeployError {
    input;
    constructor(input, problem, fix) {
        super(`Input '${input}': ${problem}`, fix, 'bad-input');
        this.input = input;
        this.name = 'InputError';
    }
}


/***/ }),

/***/ 6264:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   Az: () => (/* binding */ runLabel),
/* harmony export */   LS: () => (/* binding */ plural),
/* harmony export */   Qg: () => (/* binding */ attemptNote),
/* harmony export */   YA: () => (/* binding */ seconds),
/* harmony export */   ee: () => (/* binding */ bytes),
/* harmony export */   l_: () => (/* binding */ progressText),
/* harmony export */   m3: () => (/* binding */ shortRef),
/* harmony export */   ut: () => (/* binding */ runLink),
/* harmony export */   xe: () => (/* binding */ releaseLines),
/* harmony export */   z7: () => (/* binding */ when)
/* harmony export */ });
/* unused harmony exports textTable, markdownTable */
/**
 * How both front ends write figures and tables: the action's log and job summary, the CLI's
 * result lines and its `list` table, and the README's inputs table (scripts/gen-readme.ts).
 * Pure text: no colour (the CLI paints cells itself), no escaping (each sink escapes its own way).
 */
/**
 * A size as every front end says it: decimal units, as rsync and `df -H` do (`812 B`, `4.1 kB`,
 * `1.2 MB`, `3.40 GB`). One style everywhere: the CLI, the summary, the log and the progress line.
 */
function bytes(n) {
    if (n < 1000)
        return `${n} B`;
    if (n < 1000 ** 2)
        return `${(n / 1000).toFixed(1)} kB`;
    if (n < 1000 ** 3)
        return `${(n / 1000 ** 2).toFixed(1)} MB`;
    return `${(n / 1000 ** 3).toFixed(2)} GB`;
}
/** `1 file`, `2 files`, `0 files` (`many` for words that do not just take an s). */
function plural(n, one, many = `${one}s`) {
    return `${n} ${n === 1 ? one : many}`;
}
/** A duration as the results say it: `2.3 s`. */
function seconds(ms) {
    return `${(ms / 1000).toFixed(1)} s`;
}
// An ISO 8601 UTC time as the tool writes it (`new Date().toISOString()`), or with an offset.
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:\d\d)$/;
/**
 * A deploy log time for people: `2026-11-21 10:00 UTC`. The log is the server's file: a time that
 * is not an ISO time is shown as the log has it (the caller escapes it), never guessed at.
 */
function when(iso) {
    if (!iso)
        return '(not in the log)';
    const t = ISO_TIME.test(iso) ? new Date(iso) : undefined;
    if (!t || Number.isNaN(t.getTime()))
        return iso;
    return `${t.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
/** A git ref as people name it: `v1.2.3` for refs/tags/v1.2.3, `main` for refs/heads/main. */
function shortRef(ref) {
    return ref.replace(/^refs\/(?:tags|heads)\/(?=.)/, '');
}
// https, a host name, an optional port, a path of plain characters; no user info, query or
// fragment: nothing a crafted log line could turn into another link, a script or markup.
const RUN_URL = /^https:\/\/[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::\d{1,5})?(?:\/[A-Za-z0-9._~-]+)*\/?$/;
/** The run URL of a log line when it is safe to render as a link (https, a sane shape), else ''. */
function runLink(url) {
    return url.length <= 512 && RUN_URL.test(url) ? url : '';
}
/** A link's text: `run 1234` for a GitHub run or a GitLab job, `run` for any other URL. */
function runLabel(url) {
    const id = /\/(?:runs|jobs)\/(\d{1,20})(?:\/|$)/.exec(url)?.[1];
    return id ? `run ${id}` : 'run';
}
/**
 * What this run tried, when it is not what is live now: said next to what is live, so nobody reads
 * the attempted release as the served one.
 */
function attemptNote(h) {
    const tried = h.attemptedReleaseId && h.attemptedReleaseId !== h.releaseId ? h.attemptedReleaseId : '';
    if (!tried)
        return '';
    const what = {
        'dry-run': `would switch to ${tried}`,
        reverted: `switched back from ${tried}`,
        failed: `${tried} is not live`,
        'not-switched': `${tried} is not live`,
        uploaded: `${tried} was uploaded, not made live`,
    };
    return what[h.status] ?? '';
}
// rsync's rate units (progress.c): powers of 1024, whatever the label says.
const RATE_UNIT = {
    B: 1,
    kB: 1024,
    KB: 1024,
    MB: 1024 ** 2,
    GB: 1024 ** 3,
    TB: 1024 ** 4,
};
/**
 * rsync --info=progress2 (--no-human-readable): `1234567  45%  12.34MB/s  0:00:03 (xfr#3, to-chk=10/20)`.
 * Files are counted by `xfr#`, the regular files sent so far: the figure the result line's
 * "N files sent" gives at the end. (`to-chk` counts directories and links too.) Sizes and rates in
 * format.ts's units, as every other figure.
 */
function progressText(line) {
    const m = /^\s*([\d,.]+)\s+(\d+)%\s+(\S+)\s+(\d+:\d\d:\d\d)(?:.*?xfr#(\d+))?/.exec(line);
    if (!m)
        return line.trim();
    const [, done = '0', pct, rate = '', time, sent] = m;
    const r = /^([\d.]+)([kKMGT]?B)\/s$/.exec(rate);
    const speed = r ? `${bytes(Math.round(Number(r[1]) * (RATE_UNIT[r[2]] ?? 1)))}/s` : rate;
    const files = sent !== undefined ? ` · ${plural(Number(sent), 'file')} sent` : '';
    return `uploading ${pct}% · ${bytes(Number(done.replace(/[,.]/g, '')))} · ${speed} · ${time}${files}`;
}
/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
function textTable(rows) {
    const widths = [];
    for (const r of rows) {
        r.cells.forEach((c, i) => {
            widths[i] = Math.max(widths[i] ?? 0, c.length);
        });
    }
    return rows
        .map((r) => r.cells
        .map((c, i) => {
        const padded = i === r.cells.length - 1 ? c : c.padEnd(widths[i] ?? 0);
        return r.paint ? r.paint(i, padded) : padded;
    })
        .join('  ')
        .trimEnd())
        .join('\n');
}
/** A markdown table (cells are markdown already; an empty cell is `| |`). */
function markdownTable(header, rows) {
    const line = (cells) => `|${cells.map((c) => (c ? ` ${c} ` : ' ')).join('|')}|`;
    return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}
/** The releases as the action's log shows them, a line each: newest first, the live one marked `*`. */
function releaseLines(releases) {
    return releases.map((r) => [
        `${r.current ? '*' : ' '} ${r.id}${r.bad ? '  (bad)' : ''} `,
        when(r.deployedAt),
        r.actor ? `by ${r.actor}` : '',
        shortRef(r.ref),
        r.sha.slice(0, 7),
        runLink(r.run),
    ]
        .filter(Boolean)
        .join(' '));
}


/***/ }),

/***/ 6689:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   j3: () => (/* binding */ healthcheck),
/* harmony export */   yP: () => (/* binding */ maskUrl)
/* harmony export */ });
/* unused harmony exports healthRequest, sameHost */
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(3916);
/* harmony import */ var _format_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(6264);


/**
 * The health check after the switch: GET a URL from the runner until it answers 2xx. The URL may
 * carry secrets (user:password@, ?token=…): they are sent (the userinfo as Basic auth, which fetch
 * would otherwise refuse) but never printed, and redirects are followed only on the URL's own host,
 * so neither the credentials nor the check itself wander off to another server.
 */
/** The URL as it may be printed: userinfo and query values replaced by ***, parseable or not. */
function maskUrl(text) {
    return text
        .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@')
        .replace(/([?&;][^=&;#]*=)[^&;#]*/g, '$1***')
        .replace(/#.+$/, '#***');
}
/** Splits `https://user:pass@host/…` into the URL fetch can take and a Basic auth header. */
function healthRequest(raw) {
    const u = new URL(raw);
    if (!u.username && !u.password)
        return { url: u.href, authorization: '' };
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    u.username = '';
    u.password = '';
    return { url: u.href, authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
}
/**
 * Where a redirect may go: the same host name (any port of it), and never from https down to
 * http (the Basic credentials would then cross the network in clear).
 */
function sameHost(from, to) {
    const a = new URL(from);
    const b = new URL(to);
    return a.hostname === b.hostname && !(a.protocol === 'https:' && b.protocol === 'http:');
}
const MAX_REDIRECTS = 5;
/** A redirect off the URL's host: a setting to fix, not a server still starting; no retry. */
class OffHostRedirect extends Error {
}
/** One GET, redirects followed by hand on the same host; resolves with the status or throws. */
async function getOnce(req, signal) {
    let url = req.url;
    for (let hop = 0;; hop++) {
        const res = await fetch(url, {
            signal,
            redirect: 'manual',
            headers: {
                'user-agent': 'rsync-atomic-deploy healthcheck',
                ...(req.authorization ? { authorization: req.authorization } : {}),
            },
        });
        await res.arrayBuffer().catch(() => undefined);
        const location = res.headers.get('location');
        if (res.status < 300 || res.status >= 400 || !location)
            return res.status;
        const next = new URL(location, url).href;
        if (!sameHost(req.url, next)) {
            throw new OffHostRedirect(`HTTP ${res.status}: redirected to another host (${maskUrl(next)}), not followed`);
        }
        if (hop >= MAX_REDIRECTS)
            throw new Error(`HTTP ${res.status}: more than ${MAX_REDIRECTS} redirects`);
        url = next;
    }
}
/**
 * A signal aborted by `outer` or after `ms`, and its clean-up. (AbortSignal.any needs Node 20.3;
 * package.json allows every Node 20.)
 */
function withTimeout(outer, ms) {
    const c = new AbortController();
    const abort = () => c.abort();
    const t = setTimeout(abort, ms);
    if (outer.aborted)
        c.abort();
    else
        outer.addEventListener('abort', abort, { once: true });
    return {
        signal: c.signal,
        done: () => {
            clearTimeout(t);
            outer.removeEventListener('abort', abort);
        },
    };
}
/** GETs the URL from the runner until it answers 2xx, backing off, within a bound. */
async function healthcheck(rawUrl, opts) {
    const shown = maskUrl(rawUrl);
    const req = healthRequest(rawUrl);
    const deadline = Date.now() + (opts.boundMs ?? 60_000);
    let wait = 1000;
    let last = '';
    for (let attempt = 1;; attempt++) {
        const t = withTimeout(opts.signal, 10_000);
        try {
            const status = await getOnce(req, t.signal);
            if (status >= 200 && status < 300) {
                opts.reporter.info(`Health check ${shown}: ${status} (attempt ${attempt})`);
                return;
            }
            last = `HTTP ${status}`;
        }
        catch (e) {
            if (e instanceof OffHostRedirect) {
                throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`Health check failed: ${shown} answered ${e.message}.`, 'Give the URL the check should end at as healthcheck-url: redirects are followed only on its own host, so credentials and the check never go elsewhere.', 'healthcheck');
            }
            // Stopped by the step's timeout: keep the server's last answer, not the abort.
            if (opts.signal.aborted && last)
                break;
            last = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
        }
        finally {
            t.done();
        }
        if (opts.signal.aborted || Date.now() + wait > deadline)
            break;
        opts.reporter.info(`Health check ${shown}: ${last}; trying again in ${(0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .seconds */ .YA)(wait)}`);
        // The wait ends early when the step times out or is cancelled.
        await new Promise((r) => {
            const t = setTimeout(r, wait);
            opts.signal.addEventListener('abort', () => {
                clearTimeout(t);
                r();
            }, { once: true });
        });
        wait = Math.min(wait * 2, 10_000);
    }
    throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`Health check failed: ${shown} did not answer 2xx (last answer: ${last}).`, 'Check the URL and what the new release serves; the job log above shows the after-switch output. Redirects are followed only on the same host.', 'healthcheck');
}


/***/ }),

/***/ 9957:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   Iu: () => (/* binding */ loginShellFailure),
/* harmony export */   Z4: () => (/* binding */ explainRsyncExit),
/* harmony export */   cB: () => (/* binding */ explainSshFailure),
/* harmony export */   lI: () => (/* binding */ sshFactsNeeded),
/* harmony export */   r1: () => (/* binding */ startupFileHint),
/* harmony export */   yj: () => (/* binding */ remoteErrorHint)
/* harmony export */ });
/* unused harmony export shellFamily */
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(3916);
/* harmony import */ var _quote_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(4519);
/* harmony import */ var _words_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(5846);



/** A path as it must be typed into a shell: plain when it can be, else quoted. */
function shWord(s) {
    return /^[A-Za-z0-9_./-]+$/.test(s) ? s : (0,_quote_js__WEBPACK_IMPORTED_MODULE_1__/* .shQuote */ .US)(s);
}
/** Own setup: what to do about a host key ssh does not know, the way ssh users do it. */
function ownHostKeyHint(ctx) {
    const name = ctx.host?.host ?? 'HOST';
    return `Host keys are always checked, whatever your ~/.ssh/config says. Connect once with \`ssh ${ctx.host?.port && ctx.host.port !== 22 ? `-p ${ctx.host.port} ` : ''}${name}\`, check the fingerprint it shows against the server (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` there) and answer yes, so it is in your known_hosts; or pass --known-hosts FILE.`;
}
function lastLines(text, n = 6) {
    return text.trim().split('\n').slice(-n).join('\n');
}
/** What ssh said, by kind: the classifier below and the facts it needs agree on these. */
const KEY_FORMAT = /error in libcrypto|invalid format|Load key .*: (invalid|error)/i;
const BAD_PASSPHRASE = /incorrect passphrase|bad passphrase/i;
const HOST_KEY_CHANGED = /REMOTE HOST IDENTIFICATION HAS CHANGED/;
const HOST_KEY_UNKNOWN = /Host key verification failed|No .* host key is known|host key .* not in list/i;
const DENIED = /Permission denied \(/;
/** Which facts explaining `stderr` needs: a key scan for a host key failure, key checks for a refused login. */
function sshFactsNeeded(stderr, ctx) {
    const early = KEY_FORMAT.test(stderr) || ctx.passphraseRejected || BAD_PASSPHRASE.test(stderr);
    const hostKey = !early && (HOST_KEY_CHANGED.test(stderr) || HOST_KEY_UNKNOWN.test(stderr));
    return {
        offeredKeys: hostKey && !ctx.ownSetup && ctx.host !== undefined,
        keyChecks: !early && !hostKey && DENIED.test(stderr) && ctx.hasKey,
    };
}
/** What the server offers, as known_hosts lines with fingerprints: shown when verification fails. */
function offeredKeys(ctx, offered) {
    const host = ctx.host;
    if (!host || !offered)
        return '';
    if (offered.lines.length === 0) {
        return ctx.jump
            ? `\nIts key could not be read through the jump host (run \`ssh-keyscan -p ${host.port} ${host.host}\` on the jump host).`
            : '';
    }
    return `\nThe server offers (check these fingerprints against the server before you trust them):\n${offered.fingerprints}\nknown_hosts lines to pin:\n${offered.lines.join('\n')}`;
}
/** Turns ssh's stderr from a failed connection into a cause and a fix. */
function explainSshFailure(stderr, ctx, facts = {}) {
    const s = stderr;
    const who = `${ctx.label}`;
    const w = ctx.words ?? _words_js__WEBPACK_IMPORTED_MODULE_2__/* .ACTION_WORDS */ .d;
    if (KEY_FORMAT.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`ssh could not read the private key for ${who}.`, 'The key text is damaged or not an OpenSSH/PEM private key. Paste the whole file (BEGIN to END lines) into the secret again.', 'key-format');
    }
    if (ctx.passphraseRejected || BAD_PASSPHRASE.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`The key passphrase (${w.input('key-passphrase')}) does not decrypt the key (connecting to ${who}).`, 'Check the passphrase secret, or remove the passphrase: `ssh-keygen -p -f KEY`.', 'passphrase');
    }
    if (ctx.ownSetup && HOST_KEY_CHANGED.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`The host key of ${who} is not the one in your known_hosts: it CHANGED. This may be an attack, or the server was reinstalled.`, 'Do not deploy until you know why. If the change is expected, remove the old key (`ssh-keygen -R HOST`, the line ssh named) and connect once with ssh to check and record the new one.', 'host-key-changed');
    }
    if (ctx.ownSetup && HOST_KEY_UNKNOWN.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`Host key verification failed for ${who}: its key is not in your known_hosts.`, ownHostKeyHint(ctx), 'host-key-unknown');
    }
    if (HOST_KEY_CHANGED.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`The host key of ${who} is not the one in ${w.input('known-hosts')}: it CHANGED. This may be an attack, or the server was reinstalled.`, `Do not deploy until you know why. If the change is expected, replace ${w.input('known-hosts')} with the new key.${offeredKeys(ctx, facts.offered)}`, 'host-key-changed');
    }
    if (HOST_KEY_UNKNOWN.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`Host key verification failed for ${who}: none of the keys in ${w.input('known-hosts')} matches the key the server offered.`, `Pin the server's key in ${w.input('known-hosts')} (run \`ssh-keyscan -p ${ctx.host?.port ?? 22} ${ctx.host?.host ?? 'HOST'}\`${ctx.jump ? ' on the jump host' : ''} and compare the fingerprint with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the server).${offeredKeys(ctx, facts.offered)}`, 'host-key-unknown');
    }
    if (ctx.ownSetup && !ctx.hasKey && DENIED.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${who} refused the login${ctx.user ? ` as user ${ctx.user}` : ''}: Permission denied (publickey).`, 'No key your ssh offered was accepted (your agent and the IdentityFile of your ~/.ssh/config). A key with a passphrase must be in your agent (`ssh-add KEY`): nothing here asks for it. Check that `ssh HOST true` works, the user name, or pass --key FILE.', 'auth');
    }
    if (DENIED.test(s)) {
        // BatchMode skips an encrypted key silently and the login fails as if the key were not authorized.
        if (ctx.hasKey && !ctx.passphraseGiven && facts.keyNeedsPassphrase) {
            return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`The key is protected by a passphrase and ${w.input('key-passphrase')} is not set, so ssh could not use it (connecting to ${who}).`, `Pass the passphrase from a secret as ${w.input('key-passphrase', '${{ secrets.DEPLOY_KEY_PASSPHRASE }}')}, or remove it from the key: \`ssh-keygen -p -f KEY\`.`, 'passphrase');
        }
        let fp = '';
        if (ctx.hasKey) {
            // `256 SHA256:… comment (ED25519)` → `SHA256:… (ED25519)`
            const f = facts.keyFingerprint ? facts.keyFingerprint.trim().split(' ') : [];
            if (f[1])
                fp = ` with the key ${f[1]}${/^\(.*\)$/.test(f.at(-1) ?? '') ? ` ${f.at(-1)}` : ''}`;
        }
        const user = ctx.user || `(the runner’s user name; set ${w.input('user')})`;
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${who} refused the login as user ${user}${fp}: Permission denied (publickey).`, `Add the public key to ~${ctx.user || 'USER'}/.ssh/authorized_keys on the server (\`ssh-keygen -y -f KEY\` prints it), check the user name, and that the key is not restricted there (from=, command=).${ctx.passphraseGiven ? '' : ` If the key has a passphrase, give ${w.input('key-passphrase')}.`}`, 'auth');
    }
    if (/Connection refused/i.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${who} refused the connection: nothing listens for SSH on port ${ctx.host?.port ?? 22}.`, `Check the port (${w.input('port')} or host:port) and that sshd runs and the firewall lets the runner in.`, 'refused');
    }
    if (/Could not resolve hostname|Name or service not known|nodename nor servname/i.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`The host name of ${who} does not resolve.`, `Check the spelling of ${w.input('host')}.`, 'dns');
    }
    if (/timed out during banner exchange/i.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${who} is unreachable: the TCP connection was accepted, but no SSH greeting came back before ssh timed out (${lastLines(s, 1)}).`, `Check that port ${ctx.host?.port ?? 22} is this server's SSH port (not another service or a proxy), that sshd is not overloaded (MaxStartups), and that no firewall swallows the connection after accepting it.`, 'unreachable');
    }
    if (/timed out|No route to host|Network is unreachable/i.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${who} is unreachable: ${lastLines(s, 1)}`, `Check the address, that the server is up, and that its firewall lets GitHub runners in (or use a self-hosted runner / ${w.input('jump-host')}).`, 'unreachable');
    }
    if (/kex_exchange_identification|Connection closed by|Connection reset/i.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${who} closed the connection before login: ${lastLines(s, 1)}`, 'The server may limit connections (MaxStartups, fail2ban) or not be an SSH server on that port.', 'closed');
    }
    return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`ssh to ${who} failed: ${lastLines(s) || '(no message)'}`, '', 'ssh');
}
/** Hints for codes our remote scripts report with `@@rad-error CODE message`. */
function remoteErrorHint(code, ctx) {
    const w = ctx.words ?? _words_js__WEBPACK_IMPORTED_MODULE_2__/* .ACTION_WORDS */ .d;
    switch (code) {
        case 'rsync-missing':
            return 'Install rsync on the server (Debian/Ubuntu: apt-get install rsync; RHEL: dnf install rsync; Alpine: apk add rsync).';
        case 'target-unwritable':
            return `Create the target and give it to the deploy user, e.g. \`sudo install -d -o ${ctx.user || 'deploy'} ${shWord(ctx.target)}\`.`;
        case 'link-not-symlink':
            return `To migrate: move the directory into a release and point a symlink at it, e.g. \`cd ${shWord(ctx.target)} && mkdir -p releases && mv ${ctx.linkName} releases/initial && ln -s releases/initial ${ctx.linkName}\`. Serving continues from the same files.`;
        case 'release-exists':
            return `Release ids are never reused: give a new ${w.input('release-id')}, or leave it empty to generate one.`;
        case 'locked':
            return `Wait for the other deploy, or if it is dead run ${w === _words_js__WEBPACK_IMPORTED_MODULE_2__/* .ACTION_WORDS */ .d ? 'this action with ' : ''}${w.command('unlock')} (or \`rm -r TARGET/.deploy/lock\` on the server).${w === _words_js__WEBPACK_IMPORTED_MODULE_2__/* .ACTION_WORDS */ .d ? ' Use a `concurrency:` group in the workflow to queue deploys.' : ''}`;
        case 'lock-lost':
            return 'Another run took the lock over (it judged ours stale). Re-run this deploy.';
        case 'lock-failed':
            return 'This is not another deploy: the server refused to create the lock. Fix what the message names, then re-run.';
        case 'lock-stuck':
            return 'Remove the stale lock on the server (`rm -r TARGET/.deploy/lock`, as a user who may), then re-run.';
        case 'unlock-failed':
            return 'Remove it on the server as a user who may (`rm -r TARGET/.deploy/lock`).';
        case 'unsafe-path':
            return 'Nothing was changed. The deploy root must hold real directories releases/ and .deploy/ (and real release directories) of its own.';
        case 'no-rename':
            return 'A switch must rename one link over another in one step; without such a tool there is no atomic switch.';
        case 'not-uploaded':
            return `Run ${w.command('upload')} with the same ${w.input('release-id')} on every host first${w === _words_js__WEBPACK_IMPORTED_MODULE_2__/* .ACTION_WORDS */ .d ? ' (a matrix job)' : ''}, then ${w.command('activate')}.`;
        case 'no-target':
            return `Check ${w.input('target')}: it must be the directory you deploy to.`;
        case 'nothing-live':
            return `Name the release to check with ${w.input('release-id')} (${w.command('list')} shows them).`;
        case 'release-missing':
            return `${w.command('list')} shows the releases on the server.`;
        case 'verify-tools':
            return 'Install GNU coreutils or busybox on the server (Debian/Ubuntu: apt-get install coreutils; Alpine: apk add coreutils).';
        case 'verify-too-large':
            return 'verify reads the whole release into memory on the runner: this one is beyond its bound.';
        default:
            return '';
    }
}
/** rsync's exit codes in words (rsync(1) EXIT VALUES), with the usual cause. */
function explainRsyncExit(code, stderr, words = _words_js__WEBPACK_IMPORTED_MODULE_2__/* .ACTION_WORDS */ .d) {
    const tail = lastLines(stderr, 4);
    const plain = {
        1: 'rsync refused its arguments (syntax or usage error)',
        2: 'the two rsyncs could not agree on a protocol (the server rsync is too old or is openrsync)',
        3: 'rsync could not select input/output files or directories',
        5: 'rsync could not start talking to the server',
        10: 'a socket I/O error',
        11: 'a file I/O error (is the server disk full?)',
        12: 'the data stream broke: often a shell startup file on the server (.bashrc, .profile) prints text; make it print nothing for non-interactive shells',
        14: 'an IPC error',
        20: 'rsync was interrupted',
        23: 'some files could not be transferred (permissions, unreadable files, or a full disk)',
        24: 'some source files vanished during the transfer (the build changed while uploading)',
        25: 'the --max-delete limit stopped deletions',
        30: 'the transfer stalled (timeout in data send/receive)',
        35: 'timeout waiting for the daemon connection',
        127: 'rsync is not installed on the server (or not in PATH)',
        255: 'the SSH connection failed or dropped',
    };
    const why = plain[code] ?? 'rsync failed';
    const disk = /No space left on device|disk quota exceeded/i.test(stderr)
        ? ` The server disk is full: free space (prune old releases, ${words.input('keep-releases')}) and re-run.`
        : '';
    return `rsync exited with code ${code}: ${why}.${disk}${tail ? `\n${tail}` : ''}`;
}
/** What a login shell's startup file must do to stay quiet, or to stop reading without ending the shell. */
const STARTUP_SYNTAX = {
    bash: { file: '~/.bashrc', quiet: 'start it with: [ -z "$PS1" ] && return' },
    zsh: { file: '~/.zshenv (and ~/.zshrc)', quiet: 'start it with: [[ -o interactive ]] || return' },
    sh: {
        file: '~/.profile (and the $ENV file)',
        quiet: 'start it with: case $- in *i*) ;; *) return ;; esac',
    },
    fish: {
        file: '~/.config/fish/config.fish',
        quiet: 'start it with: status is-interactive; or return (or put the rest inside: if status is-interactive … end)',
    },
    csh: {
        file: '~/.cshrc (or ~/.tcshrc)',
        quiet: 'put what is meant for a terminal inside: if ($?prompt) then … endif (csh has no return; exit there ends the session)',
    },
};
/** The family of a login shell path: /usr/bin/fish → fish, tcsh → csh, dash/ksh → sh; '' if unknown. */
function shellFamily(shell) {
    const name = shell.split('/').pop() ?? '';
    if (name === 'bash' || name === 'zsh' || name === 'fish')
        return name;
    if (name === 'csh' || name === 'tcsh')
        return 'csh';
    if (['sh', 'dash', 'ksh', 'mksh', 'ash', 'busybox'].includes(name))
        return 'sh';
    return '';
}
/**
 * The fix for a startup file that prints text (`prints`) or ends the session (`exits`) when the
 * shell is not interactive, in the syntax of the user's login shell (every common one when unknown).
 */
function startupFileHint(shell, problem) {
    const family = shellFamily(shell);
    const what = problem === 'prints'
        ? 'print nothing when the shell is not interactive'
        : 'stop reading (not end the shell) when the shell is not interactive: no `exit` for non-interactive shells';
    const one = (f) => {
        const s = STARTUP_SYNTAX[f];
        return `${s.file}: ${s.quiet}`;
    };
    if (family)
        return `Make the login shell's startup file ${what}. ${one(family)}.`;
    return `Make the login shell's startup file ${what}. ${['bash', 'zsh', 'fish', 'csh'].map(one).join('; ')}.`;
}
/**
 * The session ended before our script said a word: the login shell did not run it (nologin,
 * /bin/false) or a startup file ended the shell first. Relays what the shell printed.
 */
function loginShellFailure(ctx) {
    const who = ctx.user ? `user ${ctx.user}` : 'the deploy user';
    const said = ctx.said.length > 0 ? `; it printed: ${ctx.said.join(' | ')}` : '; it printed nothing';
    const message = `${ctx.label}: the login shell of ${who} ended the session before the deploy script ran (exit code ${ctx.code})${said}.`;
    const text = ctx.said.join('\n');
    if (/currently not available|nologin|not allowed|account is|no login/i.test(text) ||
        (ctx.code === 1 && text === '')) {
        const u = ctx.user || 'USER';
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(message, `${ctx.user ? ctx.user : 'The deploy user'}'s login shell does not run commands${text ? '' : ' (nologin or /bin/false?)'}. Give the account a real shell on the server, e.g. \`sudo usermod -s /bin/sh ${u}\` (or \`chsh -s /bin/bash ${u}\`), or deploy as a user that has one.${text ? '' : ` ${startupFileHint('', 'exits')}`}`, 'login-shell');
    }
    return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(message, startupFileHint('', 'exits'), 'login-shell');
}


/***/ }),

/***/ 8155:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   BP: () => (/* binding */ logLine),
/* harmony export */   Gj: () => (/* binding */ badReleases),
/* harmony export */   W3: () => (/* binding */ releasesToPrune),
/* harmony export */   _9: () => (/* binding */ parseNumberedLog),
/* harmony export */   _J: () => (/* binding */ RELEASE_ID_RE),
/* harmony export */   dD: () => (/* binding */ logProblemsWarning),
/* harmony export */   es: () => (/* binding */ rollbackTarget),
/* harmony export */   tH: () => (/* binding */ listReleases)
/* harmony export */ });
/* unused harmony exports parseLog, checkLogLine */
/* harmony import */ var _format_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(6264);
/* harmony import */ var _untrusted_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(873);
/**
 * The release history, read from `.deploy/log` (one JSON object a line). What was live before,
 * what is bad and what may be pruned are decided here, from the log's order, never from release
 * names or mtimes (rsync copies mtimes, and names need not sort by time).
 */


function parseLog(lines) {
    const out = [];
    for (const line of lines) {
        try {
            const o = JSON.parse(line);
            if (typeof o.release === 'string' && typeof o.event === 'string')
                out.push(o);
        }
        catch {
            // a torn or foreign line: the log is advisory for what it cannot parse
        }
    }
    return out;
}
/** A release id as the tool makes and accepts them: a plain name, never a path or shell syntax. */
const RELEASE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const EVENTS = ['deploy', 'rollback', 'revert'];
const TEXT_FIELDS = ['time', 'sha', 'ref', 'actor', 'run', 'host', 'digest'];
/**
 * One log line as an entry, or why it is not one. The log is the server's file: ids must be
 * release names (no `../`, no shell syntax), every field a string; text fields come back escaped
 * (a JSON `\n` or `\u001b` is a real control character once parsed).
 */
function checkLogLine(line) {
    let o;
    try {
        o = JSON.parse(line);
    }
    catch {
        return 'not valid JSON';
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o))
        return 'not a JSON object';
    const r = o;
    if (typeof r.release !== 'string' || !RELEASE_ID_RE.test(r.release))
        return 'no valid release id';
    if (typeof r.event !== 'string' || !EVENTS.includes(r.event))
        return 'an unknown event';
    if (r.from !== undefined && (typeof r.from !== 'string' || !RELEASE_ID_RE.test(r.from))) {
        return 'an invalid "from" release id';
    }
    const entry = { release: r.release, event: r.event, time: '' };
    if (typeof r.from === 'string')
        entry.from = r.from;
    for (const f of TEXT_FIELDS) {
        const v = r[f];
        if (v === undefined)
            continue;
        if (typeof v !== 'string')
            return `a "${f}" that is not a string`;
        entry[f] = (0,_untrusted_js__WEBPACK_IMPORTED_MODULE_1__/* .untrusted */ .bp)(v, 1024);
    }
    return entry;
}
/**
 * The log as the server sends it (remote.ts send_log): `N LINE` for each line, and the numbers of
 * lines too long to send. Bad lines are skipped and named; blank ones are skipped in silence.
 */
function parseNumberedLog(lines, tooLong = []) {
    const entries = [];
    const problems = tooLong.map((n) => ({
        line: Number(n) || 0,
        why: 'longer than 16384 bytes',
    }));
    for (const l of lines) {
        const sp = l.indexOf(' ');
        const n = Number(sp < 0 ? l : l.slice(0, sp));
        const text = sp < 0 ? '' : l.slice(sp + 1);
        if (text.trim() === '')
            continue;
        const e = checkLogLine(text);
        if (typeof e === 'string')
            problems.push({ line: n, why: e });
        else
            entries.push(e);
    }
    problems.sort((a, b) => a.line - b.line);
    return { entries, problems };
}
/** One warning for all skipped lines (a crafted log may have thousands): the first few named. */
function logProblemsWarning(problems) {
    if (problems.length === 0)
        return '';
    const named = problems.slice(0, 5).map((p) => `line ${p.line} (${p.why})`);
    const more = problems.length > 5 ? ` and ${problems.length - 5} more` : '';
    return `skipped ${(0,_format_js__WEBPACK_IMPORTED_MODULE_0__/* .plural */ .LS)(problems.length, 'bad line')} of .deploy/log: ${named.join(', ')}${more}. The history is read without them.`;
}
/** Fixed key order, one line, no newlines inside (JSON escapes them). */
function logLine(entry) {
    return JSON.stringify({
        release: entry.release,
        event: entry.event,
        time: entry.time,
        from: entry.from,
        sha: entry.sha,
        ref: entry.ref,
        actor: entry.actor,
        run: entry.run,
        host: entry.host,
        digest: entry.digest,
    });
}
/**
 * Releases that were rolled back from or reverted: later rollbacks skip them. One a rollback made
 * live again (rollback-to names it on purpose) is good again, or the next rollback would skip it.
 */
function badReleases(log) {
    const bad = new Set();
    for (const e of log) {
        if ((e.event === 'rollback' || e.event === 'revert') && e.from)
            bad.add(e.from);
        if (e.event === 'rollback' && e.release !== e.from)
            bad.delete(e.release);
    }
    return bad;
}
/** The release each entry made live, oldest first. */
function wentLive(log) {
    return log.map((e) => e.release);
}
/**
 * Where a rollback goes: the newest release that went live before, other than the live one,
 * not bad, still on disk.
 */
function rollbackTarget(log, live, existing) {
    const bad = badReleases(log);
    const seq = wentLive(log);
    for (let i = seq.length - 1; i >= 0; i--) {
        const id = seq[i];
        if (id !== live && !bad.has(id) && existing.has(id))
            return id;
    }
    return undefined;
}
/** Releases on disk, newest first by the log (ones the log does not know come last). */
function listReleases(log, existing, live) {
    const bad = badReleases(log);
    const firstDeploy = new Map();
    const deployIndex = new Map();
    log.forEach((e, i) => {
        if (e.event === 'deploy' && !firstDeploy.has(e.release))
            firstDeploy.set(e.release, e);
        if (e.event === 'deploy' && !deployIndex.has(e.release))
            deployIndex.set(e.release, i);
    });
    return existing
        .map((id) => {
        const d = firstDeploy.get(id);
        return {
            id,
            current: id === live,
            bad: bad.has(id),
            deployedAt: d?.time ?? '',
            sha: d?.sha ?? '',
            ref: d?.ref ?? '',
            actor: d?.actor ?? '',
            run: d?.run ?? '',
        };
    })
        .sort((a, b) => (deployIndex.get(b.id) ?? -1) - (deployIndex.get(a.id) ?? -1) || a.id.localeCompare(b.id));
}
/**
 * Which releases to delete so that `keep` good releases remain. Never the live one, never its
 * rollback target, never one the log does not know (we cannot tell how old it is).
 * Bad releases do not count; they go once they are older than the oldest good release kept.
 */
function releasesToPrune(log, existing, live, keep) {
    if (keep <= 0)
        return [];
    const protectedIds = new Set([live]);
    const back = rollbackTarget(log, live, new Set(existing));
    if (back)
        protectedIds.add(back);
    const ordered = listReleases(log, existing, live).filter((r) => r.deployedAt !== '' || r.current);
    const prune = [];
    let good = 0;
    for (const r of ordered) {
        if (good >= keep && !protectedIds.has(r.id)) {
            prune.push(r.id);
            continue;
        }
        if (!r.bad)
            good++;
    }
    return prune;
}


/***/ }),

/***/ 4227:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   E: () => (/* binding */ incomingName),
/* harmony export */   w: () => (/* binding */ stagedName)
/* harmony export */ });
/**
 * The names of an attempt's upload in .deploy/incoming: here rather than in deploy-host.ts, so the
 * action's main step can name its lock state before the deploy's own modules are loaded.
 */
/** The upload dir of this attempt in .deploy/incoming (activate: what command: upload left). */
function incomingName(s, token) {
    return s.command === 'activate' ? stagedName(s.releaseId) : `${s.releaseId}.${token.slice(0, 8)}`;
}
/** Where command: upload leaves a finished upload for command: activate. */
function stagedName(releaseId) {
    return `${releaseId}.staged`;
}


/***/ }),

/***/ 9407:
/***/ ((module, __unused_webpack___webpack_exports__, __nccwpck_require__) => {

__nccwpck_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony import */ var _actions_core_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(1938);
/* harmony import */ var _main_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(1730);
/* harmony import */ var _state_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(2462);
var __webpack_async_dependencies__ = __webpack_handle_async_dependencies__([_actions_core_js__WEBPACK_IMPORTED_MODULE_0__, _main_js__WEBPACK_IMPORTED_MODULE_1__]);
([_actions_core_js__WEBPACK_IMPORTED_MODULE_0__, _main_js__WEBPACK_IMPORTED_MODULE_1__] = __webpack_async_dependencies__.then ? (await __webpack_async_dependencies__)() : __webpack_async_dependencies__);



// One bundle for both steps (action.yml: main and post): the main step saves IsPost.
if (_actions_core_js__WEBPACK_IMPORTED_MODULE_0__/* .getState */ .Gu(_state_js__WEBPACK_IMPORTED_MODULE_2__/* .State */ .U.IsPost) === 'true') {
    // Its own chunk: the main step never loads it.
    const { post } = await Promise.all(/* import() */[__nccwpck_require__.e(769), __nccwpck_require__.e(661)]).then(__nccwpck_require__.bind(__nccwpck_require__, 6661));
    await post();
}
else {
    await (0,_main_js__WEBPACK_IMPORTED_MODULE_1__/* .run */ .e)();
}

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } }, 1);

/***/ }),

/***/ 5396:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  P$: () => (/* binding */ parseSettings)
});

// UNUSED EXPORTS: DEFAULT_CHMOD, PRIVATE_DIR_PARENT, RELEASE_ID_RE, defaultReleaseId, hasAnyFile, holdsPrivateDir, parseExpectedDigest, parseReleaseId, parseTarget, runMeta, systemDirectory

// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __nccwpck_require__(7598);
// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __nccwpck_require__(3024);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __nccwpck_require__(6760);
var external_node_path_default = /*#__PURE__*/__nccwpck_require__.n(external_node_path_);
// EXTERNAL MODULE: ./src/errors.ts
var errors = __nccwpck_require__(3916);
// EXTERNAL MODULE: ./src/healthcheck.ts
var healthcheck = __nccwpck_require__(6689);
;// CONCATENATED MODULE: ./src/hosts.ts

const USER_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;
const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;
function parsePort(input, value) {
    if (!/^[0-9]{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
        throw new errors/* InputError */.d(input, `'${value}' is not a port number`, 'Give a whole number from 1 to 65535, e.g. 22.');
    }
    return Number(value);
}
function parseUser(input, value) {
    if (!USER_RE.test(value)) {
        throw new errors/* InputError */.d(input, `'${value}' is not a valid user name`, 'Use letters, digits, ".", "_" and "-" only, not starting with "-", e.g. deploy.');
    }
    return value;
}
function formatHost(user, host, port) {
    const h = host.includes(':') ? `[${host}]` : host;
    return `${user ? `${user}@` : ''}${h}${port === 22 ? '' : `:${port}`}`;
}
/** Parses one `[user@]host[:port]` (IPv6 in brackets: `[::1]:2222`). */
function parseHost(input, raw, defaultUser, defaultPort) {
    const value = raw.trim();
    const example = 'Write [user@]host[:port], e.g. deploy@example.com:2222 or [2001:db8::1]:22.';
    if (value === '')
        throw new errors/* InputError */.d(input, 'a host is empty', example);
    if (value.startsWith('-'))
        throw new errors/* InputError */.d(input, `'${value}' starts with "-"`, example);
    let rest = value;
    let user = defaultUser;
    const at = rest.lastIndexOf('@');
    if (at >= 0) {
        user = parseUser(input, rest.slice(0, at));
        rest = rest.slice(at + 1);
    }
    let host;
    let port = defaultPort;
    if (rest.startsWith('[')) {
        const close = rest.indexOf(']');
        if (close < 0)
            throw new errors/* InputError */.d(input, `'${value}' has "[" without "]"`, example);
        host = rest.slice(1, close);
        const after = rest.slice(close + 1);
        if (after !== '') {
            if (!after.startsWith(':'))
                throw new errors/* InputError */.d(input, `'${value}' has text after "]"`, example);
            port = parsePort(input, after.slice(1));
        }
        if (!IPV6_RE.test(host) || !host.includes(':')) {
            throw new errors/* InputError */.d(input, `'${host}' in brackets is not an IPv6 address`, example);
        }
    }
    else {
        const colons = rest.split(':').length - 1;
        if (colons > 1) {
            throw new errors/* InputError */.d(input, `'${value}' looks like an IPv6 address without brackets`, example);
        }
        if (colons === 1) {
            const i = rest.indexOf(':');
            port = parsePort(input, rest.slice(i + 1));
            rest = rest.slice(0, i);
        }
        host = rest;
        if (!HOSTNAME_RE.test(host))
            throw new errors/* InputError */.d(input, `'${host}' is not a valid host name or address`, example);
    }
    return { user, host, port, label: formatHost(user, host, port) };
}
/** Splits a list input on newlines and commas, dropping blanks and `#` comments. */
function splitList(value) {
    return value
        .split(/[\n,]/)
        .map((s) => s.trim())
        .filter((s) => s !== '' && !s.startsWith('#'));
}

// EXTERNAL MODULE: ./src/keep-assets.ts
var keep_assets = __nccwpck_require__(3602);
// EXTERNAL MODULE: ./src/key.ts
var src_key = __nccwpck_require__(7232);
// EXTERNAL MODULE: ./src/knownhosts.ts
var knownhosts = __nccwpck_require__(4041);
// EXTERNAL MODULE: ./src/spec.ts
var spec = __nccwpck_require__(6188);
;// CONCATENATED MODULE: ./src/settings.ts

/** In the order the help and messages list them (spec.ts says what each one does). */
const COMMANDS = Object.keys(spec/* COMMAND_SPECS */.fH);

// EXTERNAL MODULE: ./src/words.ts
var words = __nccwpck_require__(5846);
;// CONCATENATED MODULE: ./src/inputs.ts












const RELEASE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const LINK_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
const RESERVED_NAMES = new Set(['releases', 'shared', '.deploy']);
// chmod(1) symbolic clauses with rsync's D/F prefixes, or D/F + octal: "D755,F644", "u+rwX,go+rX,go-w".
const CHMOD_CLAUSE_RE = /^([DF]?[ugoa]*[-+=][rwxXst]*|[DF]?[0-7]{3,4})$/;
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
/** Inputs that can never hold a private key (hooks might write one on the server, on purpose). */
const NEVER_A_KEY = spec/* INPUTS */.mc.filter((i) => !i.mayHoldKey).map((i) => i.name);
/** Owner may write; everyone may read (and enter directories / run what was executable). */
const DEFAULT_CHMOD = 'u+rwX,go+rX,go-w';
// Empty means the default action.yml gives (spec.ts): the CLI passes '' for what it was not given.
function bool(get, name) {
    const dflt = (0,spec/* defaultOf */.HA)(name) === 'true';
    const v = get(name).trim().toLowerCase();
    if (v === '')
        return dflt;
    if (['true', 'yes', '1', 'on'].includes(v))
        return true;
    if (['false', 'no', '0', 'off'].includes(v))
        return false;
    throw new errors/* InputError */.d(name, `'${v}' is not a boolean`, 'Use true or false.');
}
function wholeNumber(get, name, min, max) {
    const dflt = Number((0,spec/* defaultOf */.HA)(name));
    const v = get(name).trim();
    if (v === '')
        return dflt;
    if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) {
        throw new errors/* InputError */.d(name, `'${v}' is not a whole number from ${min} to ${max}`, `e.g. ${dflt}.`);
    }
    return Number(v);
}
function noControl(name, value, what = 'value') {
    if (CONTROL_RE.test(value)) {
        throw new errors/* InputError */.d(name, `the ${what} contains control characters (newline, tab, escape…)`, 'Remove them.');
    }
    return value;
}
// Every non-empty line counts, '#' ones too: `#*#` (editor autosaves) is a common exclude pattern,
// and a line dropped as a "comment" would change what is uploaded without a word.
function lines(get, name) {
    return get(name)
        .replace(/\r\n?/g, '\n')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '')
        .map((l) => noControl(name, l, 'line'));
}
// How an rsync filter rule starts: a rule name, then its modifiers or the separator before the
// pattern. rsync checks the rest itself (before it sends anything); this only keeps out what is
// no rule at all — it accepts every rule rsync 3.x accepts.
const FILTER_RULE_RE = /^(?:[-+.:HSPR!]|exclude|include|merge|dir-merge|hide|show|protect|risk|clear)(?:[,/!Csrpxenw+\- _].*)?$/s;
function filterRule(rule) {
    if (!FILTER_RULE_RE.test(rule)) {
        throw new errors/* InputError */.d('filter', `'${rule}' is not an rsync filter rule`, 'Start each line with a rule and a space, e.g. "- *.log", "+ /keep/***" or "P /uploads/" (FILTER RULES in man rsync). Every line is a rule: there are no comment lines.');
    }
    return rule;
}
/** True at the first entry that is not a directory (a file, a symlink…): stops early on real builds. */
function hasAnyFile(dir) {
    let entries;
    try {
        entries = (0,external_node_fs_.readdirSync)(dir, { withFileTypes: true });
    }
    catch {
        return true; // unreadable: let rsync say why
    }
    for (const e of entries)
        if (!e.isDirectory())
            return true;
    return entries.some((e) => hasAnyFile(external_node_path_default().join(dir, e.name)));
}
function parseTarget(name, value) {
    const v = value.trim();
    const good = 'Give an absolute path like /var/www/example.com, without "." or ".." parts or a trailing "/".';
    if (v === '')
        throw new errors/* InputError */.d(name, 'is required', good);
    noControl(name, v, 'path');
    if (v.length > 1024)
        throw new errors/* InputError */.d(name, 'is longer than 1024 characters', good);
    if (!v.startsWith('/'))
        throw new errors/* InputError */.d(name, `'${v}' is not an absolute path`, good);
    const parts = v.slice(1).split('/');
    if (v === '/') {
        throw new errors/* InputError */.d(name, "'/' is the root of the server's file system", `${good} ${OWN_DIR}`);
    }
    if (parts.some((p) => p === '' || p === '.' || p === '..')) {
        throw new errors/* InputError */.d(name, `'${v}' is not a normalised path`, good);
    }
    const system = systemDirectory(v);
    if (system)
        throw new errors/* InputError */.d(name, `'${v}' is ${system}`, OWN_DIR);
    return v;
}
const OWN_DIR = 'Deploy into a directory of its own, e.g. /var/www/example.com or /srv/example.com: the tool creates releases/, shared/, .deploy/ and the link in it.';
// The system's own directories: a deploy root there would mix releases/, .deploy/ and the link
// into what the OS owns (and a mistyped variable, e.g. target: /${{ vars.SITE }}, lands here).
const SYSTEM_DIRS = new Set([
    '/bin',
    '/boot',
    '/dev',
    '/etc',
    '/home',
    '/lib',
    '/lib32',
    '/lib64',
    '/libx32',
    '/media',
    '/mnt',
    '/opt',
    '/proc',
    '/root',
    '/run',
    '/sbin',
    '/srv',
    '/sys',
    '/tmp',
    '/usr',
    '/var',
    '/usr/bin',
    '/usr/include',
    '/usr/lib',
    '/usr/lib64',
    '/usr/libexec',
    '/usr/local',
    '/usr/sbin',
    '/usr/share',
    '/usr/src',
    '/var/backups',
    '/var/cache',
    '/var/lib',
    '/var/local',
    '/var/lock',
    '/var/log',
    '/var/mail',
    '/var/opt',
    '/var/run',
    '/var/spool',
    '/var/tmp',
]);
/** Trees that hold no files of anyone's: the kernel's and the boot loader's, and programs' own. */
const SYSTEM_TREES = ['/proc', '/sys', '/dev', '/run', '/boot', '/bin', '/sbin', '/lib', '/lib64', '/etc'];
/** What a system directory is, in words, or '' for a path that may be a deploy root. */
function systemDirectory(p) {
    if (SYSTEM_DIRS.has(p))
        return 'a system directory';
    const tree = SYSTEM_TREES.find((t) => p.startsWith(`${t}/`));
    return tree ? `inside ${tree}, a system directory` : '';
}
function parseReleaseId(name, value) {
    if (!RELEASE_ID_RE.test(value)) {
        throw new errors/* InputError */.d(name, `'${value}' is not a valid release id`, 'Use 1–100 letters, digits, ".", "_" or "-", starting with a letter or digit, e.g. 20261121T235501Z-v1.2.3.');
    }
    return value;
}
function parseSharedPath(value) {
    const good = 'Give paths relative to the release, e.g. storage or public/uploads.';
    const p = value.replace(/\/+$/, '');
    if (p.startsWith('/'))
        throw new errors/* InputError */.d('shared', `'${value}' is absolute`, good);
    const parts = p.split('/');
    if (parts.some((s) => s === '' || s === '.' || s === '..')) {
        throw new errors/* InputError */.d('shared', `'${value}' is not a normalised relative path`, good);
    }
    return p;
}
/** `storage` with `storage/logs` would replace the inner one, through the outer one's link, by a link to itself. */
function sharedPaths(list) {
    const unique = [...new Set(list)];
    for (const p of unique) {
        const outer = unique.find((o) => p.startsWith(`${o}/`));
        if (outer) {
            throw new errors/* InputError */.d('shared', `'${p}' is inside '${outer}'`, `List only ${outer}: what is inside it is shared with it.`);
        }
    }
    return unique;
}
/** Where ssh.ts makes its private directory (the key, known_hosts): /tmp/rad-XXXXXX. */
const PRIVATE_DIR_PARENT = '/tmp';
/**
 * The private directory's parent when `dir` contains it ('/' and /tmp do), else ''. Compared
 * after resolving symlinks, so a link to /tmp (or macOS's /tmp → /private/tmp) counts too.
 */
function holdsPrivateDir(dir, parent = PRIVATE_DIR_PARENT) {
    let real = dir;
    let tmp = parent;
    try {
        real = (0,external_node_fs_.realpathSync)(dir);
        tmp = (0,external_node_fs_.realpathSync)(parent);
    }
    catch { }
    const inside = (a, b) => a === b || b.startsWith(a === '/' ? '/' : `${a}/`);
    return inside(real, tmp) || inside(dir, parent) ? parent : '';
}
/**
 * `YYYYMMDDTHHMMSSZ-<tag or short sha>-<6 hex>`: sorts by time and says what was deployed; the
 * random end keeps two runs started in the same second (a re-run, two tags pushed at once) apart.
 */
function defaultReleaseId(now, env, unique = (0,external_node_crypto_.randomBytes)(3).toString('hex')) {
    const stamp = now
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d+Z$/, 'Z');
    const tag = env.GITHUB_REF_TYPE === 'tag' ? (env.GITHUB_REF_NAME ?? '') : '';
    // 16 + 1 + 76 + 1 + 6: within the 100 characters of a release id.
    const label = (tag || (env.GITHUB_SHA ?? '').slice(0, 7)).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 76);
    return [stamp, label, unique].filter((p) => p !== '').join('-');
}
function runMeta(env) {
    const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
    return {
        sha: env.GITHUB_SHA ?? '',
        ref: env.GITHUB_REF ?? '',
        actor: env.GITHUB_ACTOR ?? env.USER ?? '',
        runUrl: env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
            ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
            : '',
    };
}
function parseHosts(get) {
    const user = get('user').trim() === '' ? '' : parseUser('user', get('user').trim());
    const port = parsePort('port', get('port').trim() || (0,spec/* defaultOf */.HA)('port'));
    const raw = splitList(get('host'));
    if (raw.length === 0) {
        throw new errors/* InputError */.d('host', 'is required', 'Give the server as [user@]host[:port], e.g. deploy@example.com.');
    }
    const hosts = raw.map((h) => parseHost('host', h, user, port));
    const seen = new Set();
    for (const h of hosts) {
        if (seen.has(h.label))
            throw new errors/* InputError */.d('host', `${h.label} is listed twice`, 'List each host once.');
        seen.add(h.label);
    }
    const jump = get('jump-host').trim();
    return { hosts, jumpHost: jump === '' ? undefined : parseHost('jump-host', jump, user, 22) };
}
function parseTrust(get, accept) {
    const trusted = (0,knownhosts/* parseKnownHosts */.uJ)('known-hosts', get('known-hosts'));
    if (!accept && trusted.lines.length === 0 && trusted.fingerprints.length === 0) {
        throw new errors/* InputError */.d('known-hosts', 'is required: without it we cannot tell your server from an impostor', 'Run `ssh-keyscan -p PORT HOST` on a machine you trust, check the fingerprint against the server (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), and store the lines in a secret or variable. Or set accept-unknown-host-key: true to trust on first use (not recommended).');
    }
    return trusted;
}
/** Reads and validates every input. Pure apart from checking that `source` is a directory. */
function parseSettings(get, env = process.env, now = new Date(), options = {}) {
    // A private key pasted into another input would be echoed by that input's error (before it is
    // masked) or even used (a shared path, an exclude pattern): refuse it, without repeating it.
    for (const name of NEVER_A_KEY) {
        if (/PRIVATE KEY-----/.test(get(name))) {
            throw new errors/* InputError */.d(name, 'holds a private key', 'Only key takes the private key. Check which secret this input is given.');
        }
    }
    const w = options.words ?? words/* ACTION_WORDS */.d;
    const command = (get('command').trim() || (0,spec/* defaultOf */.HA)('command'));
    if (!COMMANDS.includes(command)) {
        throw new errors/* InputError */.d('command', `'${command}' is not a command`, `Use one of: ${COMMANDS.join(', ')}.`);
    }
    const { hosts, jumpHost } = parseHosts(get);
    const keyText = get('key');
    const key = keyText.trim() === '' ? '' : (0,src_key/* normalizeKey */.l)(keyText);
    if (key === '' && !options.allowOwnSsh) {
        throw new errors/* InputError */.d('key', 'is required', 'Pass the private deploy key from a secret: key: ${{ secrets.DEPLOY_KEY }}.');
    }
    const keyPassphrase = get('key-passphrase');
    if (/[\r\n]/.test(keyPassphrase)) {
        throw new errors/* InputError */.d('key-passphrase', 'contains a newline', 'Store the passphrase alone, without a trailing newline.');
    }
    const acceptUnknownHostKey = bool(get, 'accept-unknown-host-key');
    const trusted = parseTrust(get, acceptUnknownHostKey || options.allowOwnSsh === true);
    const target = parseTarget('target', get('target'));
    const linkName = get('link-name').trim() || (0,spec/* defaultOf */.HA)('link-name');
    if (!LINK_NAME_RE.test(linkName) || RESERVED_NAMES.has(linkName)) {
        throw new errors/* InputError */.d('link-name', `'${linkName}' is not a usable link name`, 'Use a plain name without "/", other than releases, shared or .deploy, e.g. current.');
    }
    const needsSource = (0,spec/* commandSpec */.Lx)(command).uploads === true;
    let source = '';
    if (needsSource) {
        const s = get('source').trim();
        if (s === '')
            throw new errors/* InputError */.d('source', 'is required', `Give the build directory, e.g. ${w.input('source', 'public')}.`);
        noControl('source', s, 'path');
        source = external_node_path_default().resolve(env.GITHUB_WORKSPACE ?? process.cwd(), s);
        let isDir = false;
        try {
            isDir = (0,external_node_fs_.statSync)(source).isDirectory();
        }
        catch { }
        if (!isDir) {
            throw new errors/* InputError */.d('source', `'${s}' is not a directory (looked at ${source})`, 'Build first, then give the output directory relative to the workspace, e.g. dist or public.');
        }
        const holds = holdsPrivateDir(source);
        if (holds) {
            throw new errors/* InputError */.d('source', `'${s}' (${source}) contains ${holds}, where this tool keeps the deploy key while it runs: it would be uploaded`, 'Give the build directory itself, e.g. dist or public, not a parent of /tmp.');
        }
    }
    const allowEmpty = bool(get, 'allow-empty');
    // An empty build going live is a broken build step far more often than a wish: refuse it here,
    // before any connection (exclude/filter that leave nothing are caught after the upload).
    if (needsSource && !allowEmpty && !hasAnyFile(source)) {
        throw new errors/* InputError */.d('source', `'${get('source').trim()}' holds no files (looked at ${source})`, 'Check that the build ran and wrote there. To deploy an empty release on purpose, set allow-empty: true.');
    }
    const givenId = get('release-id').trim();
    if ((0,spec/* commandSpec */.Lx)(command).releaseId === 'required' && givenId === '') {
        throw new errors/* InputError */.d('release-id', `is required for command ${command}`, `Give the same release id to upload and activate, e.g. ${w.input('release-id', w === words/* ACTION_WORDS */.d ? '${{ github.run_id }}' : '"$CI_PIPELINE_ID"')}.`);
    }
    const releaseId = givenId === '' ? defaultReleaseId(now, env) : parseReleaseId('release-id', givenId);
    const rollbackTo = get('rollback-to').trim();
    if (rollbackTo !== '')
        parseReleaseId('rollback-to', rollbackTo);
    const expectedDigest = parseExpectedDigest(get('expected-digest'));
    const chmod = get('chmod').trim() || DEFAULT_CHMOD;
    if (!chmod.split(',').every((c) => CHMOD_CLAUSE_RE.test(c))) {
        throw new errors/* InputError */.d('chmod', `'${chmod}' is not an rsync --chmod spec`, `e.g. ${DEFAULT_CHMOD} or D755,F644.`);
    }
    const healthcheckUrl = get('healthcheck-url').trim();
    if (healthcheckUrl !== '') {
        // new URL() silently drops newlines and tabs; the raw text is still logged, so refuse them
        noControl('healthcheck-url', healthcheckUrl, 'URL');
        let ok = false;
        try {
            ok = ['http:', 'https:'].includes(new URL(healthcheckUrl).protocol);
        }
        catch { }
        if (!ok) {
            throw new errors/* InputError */.d('healthcheck-url', `'${(0,healthcheck/* maskUrl */.yP)(healthcheckUrl)}' is not an http(s) URL`, 'e.g. https://example.com/health.');
        }
    }
    const hook = (name) => {
        const v = get(name).replace(/\r\n?/g, '\n');
        if (v.length > 65536)
            throw new errors/* InputError */.d(name, 'is longer than 64 KiB', 'Put a long script in your release and call it.');
        if (v.includes('\u0000'))
            throw new errors/* InputError */.d(name, 'contains a NUL byte', 'Remove it.');
        return v.trim() === '' ? '' : v;
    };
    return {
        command,
        hosts,
        jumpHost,
        key,
        keyPassphrase,
        trusted,
        acceptUnknownHostKey,
        source,
        target,
        linkName,
        releaseId,
        releaseIdGiven: givenId !== '',
        rollbackTo,
        keepReleases: wholeNumber(get, 'keep-releases', 0, 10000),
        exclude: lines(get, 'exclude'),
        filter: lines(get, 'filter').map(filterRule),
        chmod,
        shared: sharedPaths(lines(get, 'shared').map(parseSharedPath)),
        keepAssets: (0,keep_assets/* parseKeepAssets */.UR)(get('keep-assets')),
        keepAssetsReleases: wholeNumber(get, 'keep-assets-releases', 1, 100),
        beforeSwitch: hook('before-switch'),
        afterSwitch: hook('after-switch'),
        healthcheckUrl,
        rollbackOnFailure: bool(get, 'rollback-on-failure'),
        dryRun: bool(get, 'dry-run'),
        allowEmpty,
        maxParallel: wholeNumber(get, 'max-parallel', 1, 256),
        timeoutSeconds: wholeNumber(get, 'timeout', 10, 6 * 3600),
        expectedDigest,
        meta: runMeta(env),
    };
}
/** expected-digest: '' or a release-digest as the tool prints it (`sha256:` + 64 lowercase hex). */
function parseExpectedDigest(value) {
    const v = value.trim();
    if (v === '')
        return '';
    if (/^sha256:[0-9a-fA-F]{64}$/.test(v))
        return v.toLowerCase();
    throw new errors/* InputError */.d('expected-digest', `'${noControl('expected-digest', v.length > 80 ? `${v.slice(0, 80)}…` : v)}' is not a release digest`, 'Give the release-digest the deploy of that build output: sha256: followed by 64 hex digits, e.g. sha256:3f2a…(64 digits).');
}


/***/ }),

/***/ 3602:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   $Z: () => (/* binding */ keepPathsValue),
/* harmony export */   Hl: () => (/* binding */ keptNote),
/* harmony export */   O8: () => (/* binding */ keptCount),
/* harmony export */   UR: () => (/* binding */ parseKeepAssets),
/* harmony export */   bU: () => (/* binding */ dryRunKept),
/* harmony export */   qT: () => (/* binding */ keepSources)
/* harmony export */ });
/* unused harmony exports MAX_PATTERNS, findPathPattern, countMissing */
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(3024);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(6760);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__nccwpck_require__.n(node_path__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(3916);
/* harmony import */ var _format_js__WEBPACK_IMPORTED_MODULE_3__ = __nccwpck_require__(6264);
/* harmony import */ var _history_js__WEBPACK_IMPORTED_MODULE_4__ = __nccwpck_require__(8155);
/* harmony import */ var _reply_js__WEBPACK_IMPORTED_MODULE_5__ = __nccwpck_require__(6279);
/**
 * keep-assets: files of the last releases that match the patterns and that the new build lacks are
 * hard-linked into the new release before it goes live, so a page loaded just before a switch still
 * finds its hashed scripts (no ChunkLoadError). The pure parts live here: the patterns' validation
 * and translation, and which releases are the sources. The server side is keep_assets in
 * remote-lib.ts.
 */






/** A pattern's characters: plain file-name characters and the globs * and ?; nothing a shell or find reads otherwise. */
const SEGMENT_RE = /^[A-Za-z0-9._~@+*?-]+$/;
const FIX = 'Give patterns relative to the release, e.g. assets/**, _next/static/** or *.js (letters, digits, . _ - ~ @ + and the globs * and ?).';
/** At most this many patterns, each this long: a list is a handful of asset directories. */
const MAX_PATTERNS = 100;
const MAX_LENGTH = 200;
/**
 * The keep-assets input as patterns: newline or comma separated, each relative (no leading /, no
 * `.` or `..` part), of a safe charset. `name` is the input named in errors.
 */
function parseKeepAssets(value, name = 'keep-assets') {
    const items = value
        .replace(/\r\n?/g, '\n')
        .split(/[\n,]/)
        .map((p) => p.trim())
        .filter((p) => p !== '');
    if (items.length > MAX_PATTERNS) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .InputError */ .d(name, `has ${items.length} patterns, more than ${MAX_PATTERNS}`, 'List the asset directories, e.g. assets/**.');
    }
    for (const p of items)
        checkPattern(name, p);
    return [...new Set(items)];
}
function checkPattern(name, p) {
    const shown = JSON.stringify(p);
    if (p.length > MAX_LENGTH)
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .InputError */ .d(name, `the pattern ${shown.slice(0, 60)}… is longer than ${MAX_LENGTH} characters`, FIX);
    if (p.startsWith('/'))
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .InputError */ .d(name, `the pattern ${shown} is absolute`, FIX);
    const parts = p.replace(/\/$/, '').split('/');
    if (parts.some((s) => s === '.' || s === '..')) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .InputError */ .d(name, `the pattern ${shown} has a . or .. part`, FIX);
    }
    if (parts.some((s) => s === ''))
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .InputError */ .d(name, `the pattern ${shown} has an empty part (//)`, FIX);
    const bad = parts.find((s) => !SEGMENT_RE.test(s));
    if (bad !== undefined) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .InputError */ .d(name, `the pattern ${shown} has a character that is not allowed`, FIX);
    }
}
/**
 * A pattern as a `find -path` pattern below the release (find prints `./path`). find's `*` matches
 * `/` too, so `**` becomes `*` and a `*` of the pattern matches across directories as well:
 * `assets/**` and `assets/*` are every file under assets/, `*.js` every .js file at any depth. A
 * pattern ending in `/` means everything under that directory.
 */
function findPathPattern(pattern) {
    let p = pattern.replace(/\*{2,}/g, '*');
    if (p.endsWith('/'))
        p += '*';
    return `./${p}`;
}
/** The find -path patterns, one a line, as the keep_assets script reads them (KEEP_PATHS). */
function keepPathsValue(patterns) {
    return patterns.map(findPathPattern).join('\n');
}
/**
 * The releases old assets are kept from, newest first: the live one, then the others in the log's
 * order (list's order), at most `n`, never the new release itself. Only releases on disk.
 */
function keepSources(log, existing, live, newId, n) {
    if (n <= 0)
        return [];
    const ordered = (0,_history_js__WEBPACK_IMPORTED_MODULE_4__/* .listReleases */ .tH)(log, existing, live).map((r) => r.id);
    const list = existing.includes(live) ? [live, ...ordered.filter((id) => id !== live)] : ordered;
    return list.filter((id) => id !== newId).slice(0, n);
}
/** The server's count of kept files (a `kept` reply): a whole number, else 0. */
function keptCount(value) {
    return value !== undefined && /^[0-9]{1,9}$/.test(value) ? Number(value) : 0;
}
/** "; kept N old assets" for a host's line (the CLI's, the summary's), when keep-assets is on. */
function keptNote(settings, kept) {
    if (settings.keepAssets.length === 0)
        return '';
    return settings.dryRun ? `; would keep ${(0,_format_js__WEBPACK_IMPORTED_MODULE_3__/* .plural */ .LS)(kept, 'old asset')}` : `; kept ${(0,_format_js__WEBPACK_IMPORTED_MODULE_3__/* .plural */ .LS)(kept, 'old asset')}`;
}
/**
 * How many of the server's candidates (`./path`, from keepPlan) the build lacks: the ones a deploy
 * would keep. A path the build has, or one under a file or a symlink of the build, is not kept.
 * (The build as it lies here: exclude and filter rules are not applied.)
 */
function countMissing(source, candidates) {
    let n = 0;
    for (const c of candidates) {
        const rel = c.startsWith('./') ? c.slice(2) : '';
        const parts = rel.split('/');
        if (rel === '' || parts.some((p) => p === '' || p === '.' || p === '..'))
            continue;
        if (placeFree(source, parts))
            n++;
    }
    return n;
}
/** Nothing at the path in `root`, and every part above it that exists is a real directory. */
function placeFree(root, parts) {
    let p = root;
    for (let i = 0; i < parts.length; i++) {
        p = node_path__WEBPACK_IMPORTED_MODULE_1___default().join(p, parts[i]);
        let st;
        try {
            st = (0,node_fs__WEBPACK_IMPORTED_MODULE_0__.lstatSync)(p);
        }
        catch {
            return true;
        }
        if (i === parts.length - 1 || !st.isDirectory())
            return false;
    }
    return false;
}
/** A dry run: what keep-assets would link on this host, from the server's plan and the local build. */
async function dryRunKept(ctx, run) {
    const s = ctx.settings;
    if (s.keepAssets.length === 0 || !run.state)
        return 0;
    const reply = await run.session.call('keepPlan', {
        KEEP_PATHS: keepPathsValue(s.keepAssets),
        KEEP_FROM: keepSources(run.state.log, run.state.releases, run.state.live, s.releaseId, s.keepAssetsReleases).join(' '),
    });
    return countMissing(s.source, (0,_reply_js__WEBPACK_IMPORTED_MODULE_5__/* .all */ .Q7)(reply, 'keep-candidate'));
}


/***/ }),

/***/ 7232:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   _: () => (/* binding */ secretLines),
/* harmony export */   l: () => (/* binding */ normalizeKey)
/* harmony export */ });
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(3916);

const FIX_PRIVATE = 'Store the whole private key (the file without .pub, from "-----BEGIN OPENSSH PRIVATE KEY-----" to "-----END …-----") in a secret and pass it as key: ${{ secrets.DEPLOY_KEY }}.';
/**
 * Normalises pasted key text: CRLF and a missing final newline make ssh fail with
 * "error in libcrypto", so we fix those; we explain what cannot be fixed.
 */
function normalizeKey(value) {
    // Trim every line first: an indented "-----BEGIN" line must still count as the marker.
    const text = value
        .replace(/\r\n?/g, '\n')
        .split('\n')
        .map((l) => l.trim())
        .join('\n')
        .trim();
    if (text === '')
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d('key', 'is empty', FIX_PRIVATE);
    if (/^PuTTY-User-Key-File-/m.test(text)) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d('key', 'is a PuTTY key (.ppk), which OpenSSH cannot read', 'Convert it: `puttygen key.ppk -O private-openssh -o id_deploy` (or PuTTYgen → Conversions → Export OpenSSH key), and store that file instead.');
    }
    if (/^(ssh-|ecdsa-|sk-)\S+ AAAA/.test(text)) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d('key', 'is a public key (it starts with "ssh-…  AAAA"), not the private key', FIX_PRIVATE);
    }
    if (/^---- BEGIN SSH2 PUBLIC KEY ----/.test(text)) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d('key', 'is a public key in SSH2 format, not the private key', FIX_PRIVATE);
    }
    const begin = /^-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----$/m.exec(text);
    if (!begin || !/^-----END ([A-Z0-9 ]*)PRIVATE KEY-----$/m.test(text)) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d('key', 'does not look like a private key (no "-----BEGIN … PRIVATE KEY-----" block)', FIX_PRIVATE);
    }
    // Lines pasted with stray indentation break the base64 body; the markers themselves must stay whole.
    return `${text
        .split('\n')
        .map((l) => l.trim())
        .join('\n')}\n`;
}
/** Every line of the key, for core.setSecret (a multi-line secret is masked line by line). */
function secretLines(key) {
    return key
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length >= 8 && !l.startsWith('-----'));
}


/***/ }),

/***/ 4041:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   _d: () => (/* binding */ fingerprintCheckScript),
/* harmony export */   uJ: () => (/* binding */ parseKnownHosts),
/* harmony export */   vS: () => (/* binding */ renderKnownHosts)
/* harmony export */ });
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(3916);

const KEY_TYPE_RE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)(-cert-v01@openssh\.com)?$/;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
const FINGERPRINT_RE = /SHA256:([A-Za-z0-9+/]{43})=?/;
const HOW = 'Paste the output of `ssh-keyscan -p PORT HOST` (lines like "host ssh-ed25519 AAAA…"), or fingerprints like "SHA256:…" from `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`, one per line.';
function parseKnownHosts(input, value) {
    const out = { lines: [], fingerprints: [] };
    value
        .replace(/\r\n?/g, '\n')
        .split('\n')
        .forEach((raw, i) => {
        const line = raw.trim();
        if (line === '' || line.startsWith('#'))
            return;
        const where = `line ${i + 1}`;
        if (/[\u0000-\u001f\u007f]/.test(line.replace(/\t/g, ' '))) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d(input, `${where} contains control characters`, HOW);
        }
        const fp = FINGERPRINT_RE.exec(line);
        if (fp && !/^(@\S+\s+)?\S+\s+\S+\s+AAAA/.test(line)) {
            out.fingerprints.push(`SHA256:${fp[1]}`);
            return;
        }
        if (/^(MD5:)?([0-9a-f]{2}:){15}[0-9a-f]{2}/i.test(line.split(/\s+/)[1] ?? line)) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d(input, `${where} is an MD5 fingerprint`, `Give the SHA256 one instead. ${HOW}`);
        }
        const fields = line.split(/\s+/);
        let marker = '';
        if (fields[0]?.startsWith('@')) {
            marker = fields.shift() ?? '';
            if (marker !== '@cert-authority' && marker !== '@revoked') {
                throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d(input, `${where} has an unknown marker ${marker}`, HOW);
            }
        }
        let patterns;
        if (fields[0] !== undefined && KEY_TYPE_RE.test(fields[0])) {
            patterns = ['*']; // a bare public key (e.g. the server's ssh_host_ed25519_key.pub): trust it for every host
        }
        else {
            patterns = (fields.shift() ?? '').split(',');
        }
        const keyType = fields[0] ?? '';
        const key = fields[1] ?? '';
        if (!KEY_TYPE_RE.test(keyType) || !BASE64_RE.test(key) || key.length < 60) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d(input, `${where} is neither a known_hosts line nor a SHA256 fingerprint`, HOW);
        }
        out.lines.push({ marker, patterns, keyType, key });
    });
    return out;
}
/**
 * The known_hosts file we write. ssh looks a non-22 port up as `[host]:port`, but people paste
 * `host key` lines (or ssh-keyscan with -p prints `[host]:port`); so each plain pattern is also
 * written with every port this deploy uses, and either form matches.
 */
function renderKnownHosts(trusted, ports) {
    const extraPorts = [...new Set(ports)].filter((p) => p !== 22);
    return trusted.lines
        .map(({ marker, patterns, keyType, key }) => {
        const all = new Set();
        for (const p of patterns) {
            all.add(p);
            if (p.startsWith('|') || p.startsWith('[') || p.startsWith('!'))
                continue;
            for (const port of extraPorts)
                all.add(`[${p}]:${port}`);
        }
        return [marker, [...all].join(','), keyType, key].filter(Boolean).join(' ');
    })
        .map((l) => `${l}\n`)
        .join('');
}
/**
 * ssh runs this (KnownHostsCommand) with the offered key's fingerprint, type, key and the name it
 * looks up; when the fingerprint is one the user pinned, it answers with a known_hosts line for it.
 * It must exit 0 even when it has nothing to say, or ssh drops the connection.
 */
function fingerprintCheckScript(fingerprintFile) {
    return `#!/bin/sh
# $1=%f fingerprint  $2=%t key type  $3=%K base64 key  $4=%H name looked up
[ -n "$1" ] && [ -n "$3" ] || exit 0
fp=$(printf '%s' "$1" | sed 's/=*$//')
if grep -qxF -- "$fp" '${fingerprintFile}'; then
  printf '%s %s %s\\n' "$4" "$2" "$3"
fi
exit 0
`;
}


/***/ }),

/***/ 1730:
/***/ ((module, __webpack_exports__, __nccwpck_require__) => {

__nccwpck_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   e: () => (/* binding */ run)
/* harmony export */ });
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(7598);
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_crypto__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _actions_core_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(1938);
/* harmony import */ var _incoming_js__WEBPACK_IMPORTED_MODULE_9__ = __nccwpck_require__(4227);
/* harmony import */ var _inputs_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(5396);
/* harmony import */ var _key_js__WEBPACK_IMPORTED_MODULE_3__ = __nccwpck_require__(7232);
/* harmony import */ var _outcome_js__WEBPACK_IMPORTED_MODULE_4__ = __nccwpck_require__(4671);
/* harmony import */ var _run_command_js__WEBPACK_IMPORTED_MODULE_5__ = __nccwpck_require__(2530);
/* harmony import */ var _spec_js__WEBPACK_IMPORTED_MODULE_6__ = __nccwpck_require__(6188);
/* harmony import */ var _state_js__WEBPACK_IMPORTED_MODULE_7__ = __nccwpck_require__(2462);
/* harmony import */ var _untrusted_js__WEBPACK_IMPORTED_MODULE_8__ = __nccwpck_require__(873);
var __webpack_async_dependencies__ = __webpack_handle_async_dependencies__([_actions_core_js__WEBPACK_IMPORTED_MODULE_1__]);
_actions_core_js__WEBPACK_IMPORTED_MODULE_1__ = (__webpack_async_dependencies__.then ? (await __webpack_async_dependencies__)() : __webpack_async_dependencies__)[0];










// Every message passes safeMessage: core.info writes it raw, and core.warning/error/debug escape
// only %, CR and LF, not escape sequences. Streamed server output is also fenced with
// ::stop-commands:: and a fresh random token, so the runner reads no command inside it.
const reporter = {
    info: (m) => _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .info */ .pq((0,_untrusted_js__WEBPACK_IMPORTED_MODULE_8__/* .safeMessage */ .N5)(m)),
    warning: (m) => _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .warning */ .$e((0,_untrusted_js__WEBPACK_IMPORTED_MODULE_8__/* .safeMessage */ .N5)(m)),
    debug: (m) => _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .debug */ .Yz((0,_untrusted_js__WEBPACK_IMPORTED_MODULE_8__/* .safeMessage */ .N5)(m)),
    group: (name, fn) => _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .group */ .Os((0,_untrusted_js__WEBPACK_IMPORTED_MODULE_8__/* .safeMessage */ .N5)(name), fn),
    output: (lines) => {
        const token = (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.randomBytes)(16).toString('hex');
        _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .info */ .pq(`::stop-commands::${token}`);
        for (const l of lines)
            _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .info */ .pq((0,_untrusted_js__WEBPACK_IMPORTED_MODULE_8__/* .safeMessage */ .N5)(l));
        _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .info */ .pq(`::${token}::`);
    },
};
/**
 * The action's inputs (INPUT_* variables), read through @actions/core. Here rather than in
 * inputs.ts, so the CLI bundle (which shares inputs.ts) does not carry @actions/core.
 */
function readSettings() {
    return (0,_inputs_js__WEBPACK_IMPORTED_MODULE_2__/* .parseSettings */ .P$)((name) => _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .getInput */ .V4(name));
}
function maskSecrets(settings) {
    for (const line of (0,_key_js__WEBPACK_IMPORTED_MODULE_3__/* .secretLines */ ._)(settings.key))
        _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .setSecret */ .Pq(line);
    if (settings.keyPassphrase)
        _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .setSecret */ .Pq(settings.keyPassphrase);
    // healthcheck.ts never prints the URL's password, but the runner may echo the input itself.
    try {
        const password = new URL(settings.healthcheckUrl).password;
        if (password) {
            _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .setSecret */ .Pq(password);
            _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .setSecret */ .Pq(decodeURIComponent(password));
        }
    }
    catch { }
}
const report = () => Promise.all(/* import() | commands */[__nccwpck_require__.e(769), __nccwpck_require__.e(217)]).then(__nccwpck_require__.bind(__nccwpck_require__, 1056));
/** The main step: inputs → command → outputs and summary (action-report.ts). The only caller of setFailed. */
async function run() {
    // rsync --version runs while the inputs are read (nothing connects before it is done).
    const command = _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .getInput */ .V4('command').trim() || (0,_spec_js__WEBPACK_IMPORTED_MODULE_6__/* .defaultOf */ .HA)('command');
    const rsync = (0,_spec_js__WEBPACK_IMPORTED_MODULE_6__/* .namesUploadingCommand */ .xz)(command) ? (0,_run_command_js__WEBPACK_IMPORTED_MODULE_5__/* .checkRsync */ .kT)() : undefined;
    _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .saveState */ .LZ(_state_js__WEBPACK_IMPORTED_MODULE_7__/* .State */ .U.IsPost, 'true');
    let settings;
    try {
        settings = readSettings();
    }
    catch (e) {
        _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .setFailed */ .C1((0,_untrusted_js__WEBPACK_IMPORTED_MODULE_8__/* .safeMessage */ .N5)((0,_outcome_js__WEBPACK_IMPORTED_MODULE_4__/* .toDeployError */ .pH)(e).toString()));
        return;
    }
    maskSecrets(settings);
    const token = (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.randomBytes)(8).toString('hex');
    const makesRelease = (0,_spec_js__WEBPACK_IMPORTED_MODULE_6__/* .commandSpec */ .Lx)(settings.command).switches === true;
    const locks = {
        target: settings.target,
        linkName: settings.linkName,
        token,
        hosts: [],
        releaseId: makesRelease ? settings.releaseId : '',
        incoming: makesRelease ? (0,_incoming_js__WEBPACK_IMPORTED_MODULE_9__/* .incomingName */ .E)(settings, token) : '',
    };
    const { outcome, failure, closed } = await (0,_run_command_js__WEBPACK_IMPORTED_MODULE_5__/* .runCommand */ .d1)(settings, {
        reporter,
        token,
        // The runner's worker: it outlives this step until the post step has run.
        ownerPid: process.ppid,
        rsync,
        preload: report,
        onSshDir: (dir) => _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .saveState */ .LZ(_state_js__WEBPACK_IMPORTED_MODULE_7__/* .State */ .U.SshDir, dir),
        onLock: (i, held) => {
            locks.hosts = held ? [...new Set([...locks.hosts, i])] : locks.hosts.filter((h) => h !== i);
            _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .saveState */ .LZ(_state_js__WEBPACK_IMPORTED_MODULE_7__/* .State */ .U.Locks, JSON.stringify(locks));
        },
    });
    // The connection closes and the key goes while the outputs and the summary are written; the
    // step ends after both, whatever happens here.
    try {
        if (outcome) {
            // Loaded while the handshake ran (preload), in the commands' chunk.
            const { reportOutcome } = await report();
            await reportOutcome(settings, outcome, reporter);
        }
        if (failure)
            _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .setFailed */ .C1((0,_untrusted_js__WEBPACK_IMPORTED_MODULE_8__/* .safeMessage */ .N5)(failure.toString()));
    }
    finally {
        await closed;
    }
}

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } });

/***/ }),

/***/ 4671:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   $A: () => (/* binding */ settleFailedSwitch),
/* harmony export */   BV: () => (/* binding */ fleetFailure),
/* harmony export */   L7: () => (/* binding */ failedOn),
/* harmony export */   Nn: () => (/* binding */ liveUnknown),
/* harmony export */   VM: () => (/* binding */ noHostSwitched),
/* harmony export */   jN: () => (/* binding */ setLive),
/* harmony export */   mE: () => (/* binding */ blankResult),
/* harmony export */   pH: () => (/* binding */ toDeployError)
/* harmony export */ });
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(3916);

function toDeployError(err) {
    if (err instanceof _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s)
        return err;
    return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(err instanceof Error ? err.message : String(err));
}
/** A host before we heard from it: what it serves is not known yet. */
function blankResult(host, attempted) {
    return {
        host,
        releaseId: '',
        releasePath: '',
        liveKnown: false,
        attemptedReleaseId: attempted,
        previousReleaseId: '',
        bytesSent: 0,
        filesTransferred: 0,
        filesLinked: 0,
        durationMs: 0,
        status: 'failed',
        error: '',
        freeKb: 0,
        diskKb: 0,
        assetsKept: 0,
        pruned: [],
    };
}
/** Records what the server said its link serves now ('' = nothing is live). */
function setLive(result, target, id) {
    result.releaseId = id;
    result.releasePath = id ? `${target}/releases/${id}` : '';
    result.liveKnown = true;
}
/** We cannot tell what the link serves (a switch was cut off): say so, never guess. */
function liveUnknown(result) {
    result.releaseId = '';
    result.releasePath = '';
    result.liveKnown = false;
}
/**
 * Error codes of remote steps that stop before the link is renamed: after one of them the link
 * still serves what it served before. Any other failure of a switching step (a dropped
 * connection, a cancel, a link that reads back wrong) leaves it unknown.
 */
const REFUSED_BEFORE_SWITCH = new Set([
    'lock-lost',
    'upload-missing',
    'release-exists',
    'release-missing',
    'publish-failed',
    'shared-failed',
    'hook-failed',
    'locked',
    // The fence refused the change: the run's time was up.
    'gave-up',
]);
/** After a switching step failed: the old live release if the server said it stopped before the switch. */
function settleFailedSwitch(result, target, before, err) {
    if (REFUSED_BEFORE_SWITCH.has(err.code))
        setLive(result, target, before);
    else
        liveUnknown(result);
}
/**
 * The one "N of M hosts failed" error: a single host's own error as it is, else one message that
 * starts with `headline` (given the count and the total) and lists every host's error.
 */
function failedOn(failures, total, headline) {
    if (failures.length === 0)
        return undefined;
    if (total === 1)
        return failures[0];
    return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${headline(failures.length, total)}\n${failures.map((f) => f.message).join('\n')}`, failures[0]?.hint ?? '', failures[0]?.code ?? 'failed');
}
/** `What failed on N of M hosts.` */
function fleetFailure(failures, total, what) {
    return failedOn(failures, total, (n, m) => `${what} failed on ${n} of ${m} hosts.`);
}
/** A fleet stopped before any switch: `N of M hosts failed before the switch; no host was switched.` */
function noHostSwitched(failures, total) {
    return failedOn(failures, total, (n, m) => `${n} of ${m} hosts failed before the switch; no host was switched.`);
}


/***/ }),

/***/ 7684:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  e: () => (/* binding */ run)
});

;// CONCATENATED MODULE: external "node:child_process"
const external_node_child_process_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:child_process");
// EXTERNAL MODULE: ./src/env.ts
var env = __nccwpck_require__(8204);
;// CONCATENATED MODULE: ./src/proc.ts


const KILL_GRACE_MS = 3000;
function run(file, args, opts = {}) {
    return new Promise((resolve, reject) => {
        if (opts.signal?.aborted) {
            resolve({ code: -1, signal: null, stdout: '', stderr: '', aborted: true });
            return;
        }
        const child = (0,external_node_child_process_namespaceObject.spawn)(file, [...args], {
            // Never the runner's INPUT_* (the key) or a CI job's secrets: see env.ts.
            env: opts.env ?? (0,env/* childEnv */.g)(process.env, { own: true }),
            cwd: opts.cwd,
            stdio: ['pipe', 'pipe', opts.stderrFd ?? 'pipe'],
            shell: false,
        });
        let stdout = '';
        let stderr = '';
        let aborted = false;
        let killTimer;
        const onAbort = () => {
            aborted = true;
            if (!opts.abortKeepsStdin)
                child.stdin?.end();
            child.kill(opts.abortWith?.() ?? 'SIGTERM');
            killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
            killTimer.unref();
        };
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        child.stdout?.setEncoding('utf8');
        child.stdout?.on('data', (d) => {
            stdout += d;
            opts.onStdout?.(d);
        });
        child.stderr?.setEncoding('utf8');
        child.stderr?.on('data', (d) => {
            stderr += d;
            opts.onStderr?.(d);
        });
        child.on('error', (err) => {
            opts.signal?.removeEventListener('abort', onAbort);
            reject(err);
        });
        let done = false;
        const finish = (code, signal) => {
            if (done)
                return;
            done = true;
            opts.signal?.removeEventListener('abort', onAbort);
            if (killTimer)
                clearTimeout(killTimer);
            resolve({ code: code ?? -1, signal, stdout, stderr, aborted });
        };
        child.on('close', finish);
        // Once aborted, the child's own exit is enough: a grandchild that inherited our pipes (rsync's
        // ssh, stuck on a stalled link) would otherwise hold 'close' back for as long as it lives.
        child.on('exit', (code, signal) => {
            opts.onExit?.();
            child.stdin?.end();
            if (!aborted)
                return;
            setTimeout(() => {
                child.stdout?.destroy();
                child.stderr?.destroy();
                finish(code, signal);
            }, 100);
        });
        // A closed stdin (EPIPE) is reported through the exit code; do not crash on it.
        child.stdin?.on('error', () => { });
        const write = (text) => {
            if (text === null)
                child.stdin?.end();
            else if (opts.keepStdinOpen)
                child.stdin?.write(text);
            else
                child.stdin?.end(text);
        };
        if (opts.preface)
            child.stdin?.write(opts.preface);
        const input = opts.input;
        if (typeof input === 'object')
            input.then(write, () => write(null));
        else
            write(input ?? '');
    });
}


/***/ }),

/***/ 4519:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   US: () => (/* binding */ shQuote),
/* harmony export */   eD: () => (/* binding */ wireAssignments)
/* harmony export */ });
/* unused harmony exports shAssignments, wireAssignment, WIRE_END */
/** POSIX single-quoting: the only way a value reaches a remote shell script. */
function shQuote(value) {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}
/** `NAME='value'` lines prepended to a constant remote script. Names are ours, values are quoted. */
function shAssignments(vars) {
    return Object.entries(vars)
        .map(([name, value]) => {
        if (!/^[A-Z_][A-Z0-9_]*$/.test(name))
            throw new Error(`bad shell variable name ${name}`);
        return `${name}=${shQuote(String(value))}`;
    })
        .join('\n');
}
/** Printable ASCII that stands for itself inside a single-quoted printf format: no ', \ or %. */
const PLAIN_BYTE = (b) => b >= 0x20 && b <= 0x7e && b !== 0x27 && b !== 0x5c && b !== 0x25;
/** What PLAIN_BYTE refuses, as characters (astral ones whole: the u flag). */
const NOT_PLAIN = /[^\x20-\x24\x26\x28-\x5b\x5d-\x7e]/gu;
/** Each byte as the printf format writes it: itself when plain, else `\\ooo`. */
const WIRE_BYTE = Array.from({ length: 256 }, (_, b) => PLAIN_BYTE(b) ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`);
/**
 * One `NAME=…` line per value, in a form both a plain `sh -s` and the gate (gate.ts) read: the
 * shell runs it, the gate parses it with `case` and never evaluates it. Printable ASCII without
 * `'` is `NAME='value'`; anything else is `NAME=$(printf 'FMT.'); NAME=${NAME%.}`, FMT being
 * printable bytes and `\ooo` octal escapes only (no `%`: printf sees no directive). The `.` keeps
 * a trailing newline that `$(…)` would strip. A NUL cannot be a shell value: refused.
 */
function wireAssignment(name, value) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name))
        throw new Error(`bad shell variable name ${name}`);
    const v = String(value);
    if (/^[\x20-\x26\x28-\x7e]*$/.test(v))
        return `${name}='${v}'`;
    if (v.includes('\0'))
        throw new Error(`the value of ${name} holds a NUL byte`);
    // Only what is not plain is rewritten, each character as the octal escapes of its UTF-8 bytes
    // (a manifest of 10,000 files is ~1 MB: a byte at a time took a quarter of a second).
    let fmt = v.replace(NOT_PLAIN, (ch) => [...Buffer.from(ch, 'utf8')].map((b) => WIRE_BYTE[b]).join(''));
    // A leading - goes escaped too: bash's printf would take it for an option.
    if (fmt.startsWith('-'))
        fmt = `\\055${fmt.slice(1)}`;
    return `${name}=$(printf '${fmt}.'); ${name}=\${${name}%.}`;
}
/** Every value as a wire line (see wireAssignment), then the line that ends them. */
function wireAssignments(vars) {
    return [...Object.entries(vars).map(([n, v]) => wireAssignment(n, v)), WIRE_END].join('\n');
}
/** The line after the last value: the gate stops reading values there (plain sh runs `:`). */
const WIRE_END = ': rad-values-end';


/***/ }),

/***/ 6279:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   $1: () => (/* binding */ first),
/* harmony export */   Q7: () => (/* binding */ all),
/* harmony export */   UV: () => (/* binding */ parseReply)
/* harmony export */ });
/* harmony import */ var _untrusted_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(873);
/**
 * A remote script's reply, read (see remote.ts for the scripts): pure, and small, so what only
 * reads replies does not load the scripts' text.
 */

/** A reply line is cut here (a log line is at most LOG_MAX = 16384 characters, plus its prefix). */
const REPLY_LINE_MAX = 20_000;
/**
 * Reads a script's stdout. Every line is untrusted text (the values carry the server's data), so
 * each is escaped here, once, for all later uses: no control character survives, no value is longer
 * than a bound. The scripts never put data at the start of a line (remote `reply` encodes newlines).
 */
function parseReply(stdout) {
    const reply = { values: new Map(), warnings: [], error: undefined, other: [], ok: false };
    for (const raw of stdout.split('\n')) {
        const line = (0,_untrusted_js__WEBPACK_IMPORTED_MODULE_0__/* .untrusted */ .bp)(raw, REPLY_LINE_MAX);
        if (line.startsWith('@@rad-error ')) {
            const rest = line.slice('@@rad-error '.length);
            const sp = rest.indexOf(' ');
            reply.error = { code: sp < 0 ? rest : rest.slice(0, sp), message: sp < 0 ? '' : rest.slice(sp + 1) };
        }
        else if (line.startsWith('@@rad-warning ')) {
            reply.warnings.push(line.slice('@@rad-warning '.length));
        }
        else if (line.startsWith('@@rad ')) {
            const rest = line.slice('@@rad '.length);
            const sp = rest.indexOf(' ');
            const key = sp < 0 ? rest : rest.slice(0, sp);
            const value = sp < 0 ? '' : rest.slice(sp + 1);
            if (key === 'ok')
                reply.ok = true;
            const list = reply.values.get(key) ?? [];
            list.push(value);
            reply.values.set(key, list);
        }
        else if (line !== '') {
            reply.other.push(line);
        }
    }
    return reply;
}
function first(reply, key) {
    return reply.values.get(key)?.[0] ?? '';
}
function all(reply, key) {
    return reply.values.get(key) ?? [];
}


/***/ }),

/***/ 2530:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   d1: () => (/* binding */ runCommand),
/* harmony export */   kT: () => (/* binding */ checkRsync)
/* harmony export */ });
/* unused harmony exports sshOptions, GIVE_UP_GRACE_MS */
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(7598);
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_crypto__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(3916);
/* harmony import */ var _outcome_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(4671);
/* harmony import */ var _runner_platform_js__WEBPACK_IMPORTED_MODULE_3__ = __nccwpck_require__(9005);
/* harmony import */ var _spec_js__WEBPACK_IMPORTED_MODULE_4__ = __nccwpck_require__(6188);
/* harmony import */ var _ssh_js__WEBPACK_IMPORTED_MODULE_5__ = __nccwpck_require__(8679);






/**
 * The glue both front ends share (the action's main.ts and the CLI): the connection setup from
 * Settings, the timeout and cancellation, one command, clean-up. No @actions/core here.
 */
/**
 * What ssh gets from Settings. With `allowOwnSsh` (the CLI), a missing key or missing known hosts
 * mean: the person's own ssh setup decides them (agent, ~/.ssh/config, ~/.ssh/known_hosts).
 */
function sshOptions(settings, allowOwnSsh = false, ownerPid) {
    const t = settings.trusted;
    const noTrust = t.lines.length === 0 && t.fingerprints.length === 0 && !settings.acceptUnknownHostKey;
    return {
        hosts: settings.hosts,
        jumpHost: settings.jumpHost,
        key: settings.key,
        keyPassphrase: settings.keyPassphrase,
        trusted: settings.trusted,
        acceptUnknownHostKey: settings.acceptUnknownHostKey,
        persistSeconds: 300,
        ownerPid,
        useOwnSshSetup: allowOwnSsh && (settings.key === '' || noTrust),
    };
}
/** After the timeout, the clean-up's share of the 10 s the step may still take. */
const GIVE_UP_GRACE_MS = 8_000;
/**
 * The runner's rsync, checked (findRsync): begun as early as the front end can, as nothing
 * connects before it is done. A rejection is left for the awaiting caller (never unhandled).
 */
function checkRsync() {
    const check = (0,_runner_platform_js__WEBPACK_IMPORTED_MODULE_3__/* .findRsync */ .Zz)((0,_runner_platform_js__WEBPACK_IMPORTED_MODULE_3__/* .onPath */ .L)('rsync'));
    check.catch(() => { });
    return check;
}
/** Connects, runs `settings.command` within `settings.timeoutSeconds`, always cleans up. */
async function runCommand(settings, opts) {
    const controller = new AbortController();
    let timedOut = false;
    let cancelled = false;
    const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
    }, settings.timeoutSeconds * 1000);
    // The step ends within timeout + 10 s: what the servers may still change ends before that.
    const deadline = Date.now() + settings.timeoutSeconds * 1000 + GIVE_UP_GRACE_MS;
    const onSignal = () => {
        cancelled = true;
        controller.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const token = opts.token ?? (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.randomBytes)(8).toString('hex');
    let outcome;
    let failure;
    let ssh;
    let closed = Promise.resolve();
    try {
        // Windows, no ssh, openrsync or an old rsync: stop here, before anything connects.
        const unsupported = (0,_runner_platform_js__WEBPACK_IMPORTED_MODULE_3__/* .platformProblem */ .J4)(process.platform);
        if (unsupported)
            throw unsupported;
        // rsync --version runs while the private ssh directory is written; caught here, so a failure
        // of either is the one reported, never unhandled.
        const rsync = (0,_spec_js__WEBPACK_IMPORTED_MODULE_4__/* .commandSpec */ .Lx)(settings.command).uploads ? (opts.rsync ?? checkRsync()) : Promise.resolve('');
        const sshPath = (0,_runner_platform_js__WEBPACK_IMPORTED_MODULE_3__/* .findSsh */ .Ar)();
        ssh = await _ssh_js__WEBPACK_IMPORTED_MODULE_5__/* .Ssh */ .L1.create({ ...sshOptions(settings, opts.allowOwnSsh, opts.ownerPid), words: opts.words }, sshPath, opts.onSshDir ?? (() => { }));
        const rsyncPath = await rsync;
        // Every command but doctor connects to the first host first: its handshake (the longest wait
        // of a small deploy) starts now, while the rest of the run gets ready; its step awaits it.
        const first = settings.hosts[0];
        if (first && !(0,_spec_js__WEBPACK_IMPORTED_MODULE_4__/* .commandSpec */ .Lx)(settings.command).probes)
            ssh.connect(0, first.label, controller.signal);
        // The commands themselves load now, while the handshake runs (a chunk of their own: parsing and
        // running it took ~30 ms of every start, before anything could connect).
        const [{ dispatch }] = await Promise.all([
            Promise.all(/* import() | commands */[__nccwpck_require__.e(769), __nccwpck_require__.e(217)]).then(__nccwpck_require__.bind(__nccwpck_require__, 1676)),
            opts.preload?.(),
        ]);
        outcome = await dispatch({
            settings,
            ssh,
            reporter: opts.reporter,
            signal: controller.signal,
            deadline,
            token,
            rsyncPath,
            onLock: opts.onLock,
            words: opts.words,
        });
        failure = outcome.error;
    }
    catch (e) {
        failure = (0,_outcome_js__WEBPACK_IMPORTED_MODULE_2__/* .toDeployError */ .pH)(e);
    }
    finally {
        clearTimeout(timer);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        // Never rejects: a directory that could not be deleted is said (the post step tries again).
        if (ssh)
            closed = ssh.dispose().catch((e) => {
                opts.reporter.warning(`Could not delete the private ssh directory: ${e instanceof Error ? e.message : String(e)}`);
            });
    }
    if (timedOut) {
        const flag = opts.timeoutFlag;
        failure = new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .DeployError */ .s(`Stopped after ${settings.timeoutSeconds} s (${flag ?? 'input timeout'}). ${failure ? `Last error: ${failure.message}` : ''}`.trim(), `${outcome?.unconfirmed?.length
            ? `What ${outcome.unconfirmed.join(', ')} serves could not be checked (see above).`
            : outcome?.hosts.some((h) => h.status === 'deployed' || h.status === 'rolled-back')
                ? 'The switch had completed before the timeout (see above).'
                : 'Nothing was switched: the release served before is still live.'} Raise ${flag ?? 'timeout'} for large uploads, or check the link to the server.`, 'timeout');
    }
    return { outcome, failure, timedOut, cancelled, closed };
}


/***/ }),

/***/ 9005:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   Ar: () => (/* binding */ findSsh),
/* harmony export */   J4: () => (/* binding */ platformProblem),
/* harmony export */   L: () => (/* binding */ onPath),
/* harmony export */   PC: () => (/* binding */ parseRsyncVersion),
/* harmony export */   Zz: () => (/* binding */ findRsync)
/* harmony export */ });
/* unused harmony exports MIN_RSYNC, MAC_RSYNC_CANDIDATES, rsyncProblem, noRsyncError, rsyncCandidates */
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(3024);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(6760);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__nccwpck_require__.n(node_path__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(3916);
/* harmony import */ var _proc_js__WEBPACK_IMPORTED_MODULE_3__ = __nccwpck_require__(7684);




/**
 * What the machine running the deploy (the runner, or a laptop) must have, checked before anything
 * connects: not Windows, and a real rsync of at least MIN_RSYNC.
 *
 * Why 3.1.0: the transfer statistics are parsed from `--stats` as rsync 3.1 prints them
 * ("Number of files: N (reg: …)", "Number of regular files transferred"), and the terminal progress
 * line uses `--info=progress2`; both are 3.1.0. `--protect-args`, `--chmod`, `--link-dest` and
 * `--no-inc-recursive` are older. openrsync (macOS 15.4 and later ship it as /usr/bin/rsync) speaks
 * protocol 29 and lacks `--info`, `--protect-args` and `--no-inc-recursive`; the rsync 2.6.9 of
 * older macOS is too old as well.
 */
const MIN_RSYNC = [3, 1, 0];
/** Where a real rsync lives on macOS when the one on PATH is not: Homebrew (Apple silicon, Intel). */
const MAC_RSYNC_CANDIDATES = ['/opt/homebrew/bin/rsync', '/usr/local/bin/rsync'];
/**
 * Reads `rsync --version` output. Samba rsync: "rsync  version 3.2.7  protocol version 31".
 * openrsync: "openrsync: protocol version 29"; macOS adds a line "rsync version 2.6.9 compatible",
 * which must not be taken for a real rsync 2.6.9 (nor any other "compatible" claim).
 */
function parseRsyncVersion(text) {
    const open = /^openrsync:?\s.*?protocol version (\d+)/im.exec(text);
    if (open)
        return { kind: 'openrsync', protocol: Number(open[1]) };
    const m = /^rsync\s+version\s+v?(\d+)\.(\d+)(?:\.(\d+))?\S*\s+protocol version (\d+)/im.exec(text);
    if (!m)
        return { kind: 'unknown' };
    return {
        kind: 'rsync',
        version: [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)],
        protocol: Number(m[4]),
    };
}
function atLeast(v, min) {
    for (let i = 0; i < min.length; i++) {
        const a = v[i] ?? 0;
        const b = min[i] ?? 0;
        if (a !== b)
            return a > b;
    }
    return true;
}
/** Why this rsync cannot be used, or '' when it can. */
function rsyncProblem(info) {
    const min = MIN_RSYNC.join('.');
    switch (info.kind) {
        case 'openrsync':
            return `it is openrsync (protocol ${info.protocol}), not rsync: it lacks options this tool needs (--info, --protect-args)`;
        case 'unknown':
            return `its --version output is not rsync's`;
        case 'rsync':
            return atLeast(info.version, MIN_RSYNC)
                ? ''
                : `it is rsync ${info.version.join('.')}; ${min} or later is needed`;
    }
}
/** The Windows check, pure so a test can give any platform. */
function platformProblem(platform) {
    if (platform !== 'win32')
        return undefined;
    return new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .DeployError */ .s('rsync-atomic-deploy does not run on Windows runners: it needs rsync, which Windows does not ship, ' +
        "and OpenSSH's connection sharing (ControlMaster, one SSH connection per deploy), which Windows' ssh lacks.", 'Run the deploy job on Linux (runs-on: ubuntu-latest) or macOS (with `brew install rsync`). A build made ' +
        'on Windows can reach it through actions/upload-artifact and actions/download-artifact.', 'runner');
}
/** The message when no usable rsync was found; `tried` is path → why not. */
function noRsyncError(tried, platform) {
    const why = tried.length ? tried.map(([p, w]) => `${p}: ${w}`).join('; ') : 'no rsync on PATH';
    const fix = platform === 'darwin'
        ? 'Install a real rsync: `brew install rsync` (it goes to /opt/homebrew/bin or /usr/local/bin, which are used before /usr/bin/rsync).'
        : `Install rsync ${MIN_RSYNC.join('.')} or later on this machine (e.g. \`apt-get install rsync\`) and make sure it is on PATH.`;
    return new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .DeployError */ .s(`No usable rsync on this machine (${why}). Nothing was contacted.`, fix, 'runner');
}
/**
 * The first `name` on PATH that is a file this process may execute, or '' when there is none: what
 * @actions/io's which() finds, looked up without awaiting a stat per PATH entry (7-8 ms of every
 * deploy's start, before the connection could open). Entries that cannot be read are skipped.
 */
function onPath(name, pathVar = process.env.PATH ?? '') {
    for (const dir of pathVar.split((node_path__WEBPACK_IMPORTED_MODULE_1___default().delimiter))) {
        if (!dir)
            continue;
        const p = node_path__WEBPACK_IMPORTED_MODULE_1___default().join(dir, name);
        try {
            if (!(0,node_fs__WEBPACK_IMPORTED_MODULE_0__.statSync)(p).isFile())
                continue;
            (0,node_fs__WEBPACK_IMPORTED_MODULE_0__.accessSync)(p, node_fs__WEBPACK_IMPORTED_MODULE_0__.constants.X_OK);
            return p;
        }
        catch { }
    }
    return '';
}
/** ssh on PATH, or why not: checked before anything connects. */
function findSsh(pathVar) {
    const p = onPath('ssh', pathVar);
    if (p)
        return p;
    throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .DeployError */ .s('No ssh on this machine (none on PATH). Nothing was contacted.', "Install OpenSSH's client on this machine (e.g. `apt-get install openssh-client`) and make sure it is on PATH.", 'runner');
}
/** Candidates in order: the rsync on PATH first, then (macOS) Homebrew's. Duplicates dropped. */
function rsyncCandidates(onPath, platform) {
    const list = onPath ? [onPath] : [];
    if (platform === 'darwin')
        list.push(...MAC_RSYNC_CANDIDATES);
    return [...new Set(list)];
}
/**
 * The rsync to run: the first candidate whose `--version` is a real rsync ≥ MIN_RSYNC. Run once per
 * command that uploads, before connecting.
 */
async function findRsync(onPath, platform = process.platform, exists = node_fs__WEBPACK_IMPORTED_MODULE_0__.existsSync, versionOf = rsyncVersionText) {
    const tried = [];
    for (const p of rsyncCandidates(onPath, platform)) {
        if (p !== onPath && !exists(p))
            continue;
        let text;
        try {
            text = await versionOf(p);
        }
        catch (e) {
            tried.push([p, `could not run it (${e instanceof Error ? e.message : String(e)})`]);
            continue;
        }
        const problem = rsyncProblem(parseRsyncVersion(text));
        if (!problem)
            return p;
        tried.push([p, problem]);
    }
    throw noRsyncError(tried, platform);
}
async function rsyncVersionText(p) {
    const r = await (0,_proc_js__WEBPACK_IMPORTED_MODULE_3__/* .run */ .e)(p, ['--version'], { signal: AbortSignal.timeout(10_000) });
    // openrsync may print its banner to stderr, and exit non-zero for --version.
    return `${r.stdout}\n${r.stderr}`;
}


/***/ }),

/***/ 6188:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   HA: () => (/* binding */ defaultOf),
/* harmony export */   Lx: () => (/* binding */ commandSpec),
/* harmony export */   fH: () => (/* binding */ COMMAND_SPECS),
/* harmony export */   mc: () => (/* binding */ INPUTS),
/* harmony export */   xz: () => (/* binding */ namesUploadingCommand)
/* harmony export */ });
/* unused harmony exports inScope, inputSpec */
/**
 * Every input, written down once. The action's parser (inputs.ts: names and defaults), the CLI's
 * flags, scope checks and help (cli/), the inputs that may never hold a key and the README's inputs
 * table (`npm run docs`) are read from here; unit tests fail when action.yml or the README
 * disagree. No imports: both bundles and the docs script read it as plain data.
 */
/** In the order the help and messages list them. */
const COMMAND_SPECS = {
    deploy: { uploads: true, switches: true, releaseId: 'made', locks: true, prunes: true },
    rollback: { locks: true, picksRelease: true },
    list: {},
    prune: { locks: true, prunes: true },
    // removes the lock whoever holds it, without taking it
    unlock: {},
    upload: { uploads: true, releaseId: 'required', locks: true },
    activate: { switches: true, releaseId: 'required', locks: true, prunes: true },
    // checks the server read-only (doctor.ts): no lock, no change
    doctor: { probes: true },
    // reads only (verify-command.ts): no lock, no change
    verify: { verifies: true },
};
function commandSpec(command) {
    return COMMAND_SPECS[command];
}
/** Whether `word` (an input not yet checked) names a command that uploads. */
function namesUploadingCommand(word) {
    return Object.hasOwn(COMMAND_SPECS, word) && commandSpec(word).uploads === true;
}
function inScope(scope, command) {
    if (typeof scope !== 'string')
        return scope.some((one) => inScope(one, command));
    return scope === 'all' || commandSpec(command)[scope] !== undefined;
}
function flag(name, value, help, more = {}) {
    return { flag: name, value, help, ...more };
}
const TABLE = [
    {
        name: 'host',
        kind: 'list',
        required: true,
        description: 'One or more [user@]host[:port], separated by newlines or commas. IPv6 in brackets, e.g. [2001:db8::1]:2222.',
        docDefault: 'required',
        meaning: 'one or more `[user@]host[:port]`, separated by newlines or commas; IPv6 in brackets `[2001:db8::1]:2222`',
        scope: 'all',
        flags: [
            flag('host', '[USER@]HOST[:PORT]', 'Server to work on; repeat it or give a comma list for a fleet. Without --key, a Host alias of your ~/.ssh/config works.'),
        ],
    },
    {
        name: 'user',
        kind: 'text',
        description: 'SSH user for hosts that name none.',
        docDefault: '',
        meaning: 'SSH user for hosts that name none',
        scope: 'all',
        flags: [flag('user', 'USER', 'SSH user for hosts that name none (default: what ssh chooses).')],
    },
    {
        name: 'port',
        kind: 'number',
        default: '22',
        description: 'SSH port for hosts that name none.',
        docDefault: '`22`',
        meaning: 'SSH port for hosts that name none',
        scope: 'all',
        flags: [flag('port', 'PORT', 'SSH port for hosts that name none (default: 22, or your ~/.ssh/config).')],
    },
    {
        name: 'key',
        kind: 'secret',
        required: true,
        description: 'Private key text (OpenSSH or PEM). Pass it from a secret. CRLF and a missing final newline are tolerated.',
        docDefault: 'required',
        meaning: 'private key text (OpenSSH or PEM), from a secret; CRLF and a missing final newline are tolerated',
        mayHoldKey: true,
        scope: 'all',
        flags: [
            flag('key', 'FILE', 'Private key file. Without it: your ssh-agent and the IdentityFile of your ~/.ssh/config.'),
            flag('key-env', 'NAME', 'Read the private key text from the environment variable NAME (a CI secret).'),
        ],
    },
    {
        name: 'key-passphrase',
        kind: 'secret',
        description: 'Passphrase of key. Given to ssh through SSH_ASKPASS, never on a command line.',
        docDefault: '',
        meaning: 'passphrase of `key`, given to ssh through `SSH_ASKPASS`, never on a command line',
        scope: 'all',
        flags: [
            flag('key-passphrase-env', 'NAME', "Read the key's passphrase from the environment variable NAME (never from the command line)."),
        ],
    },
    {
        name: 'known-hosts',
        kind: 'secret',
        description: 'known_hosts lines (as ssh-keyscan prints them) and/or SHA256 fingerprints, one per line. Required unless accept-unknown-host-key is true.',
        docDefault: 'required*',
        meaning: '`known_hosts` lines (as `ssh-keyscan` prints them; plain `host key` lines work for any port) and/or `SHA256:` fingerprints, one per line',
        scope: 'all',
        flags: [
            flag('known-hosts', 'FILE', 'known_hosts lines and/or SHA256: fingerprints to trust. Without it: your own known_hosts. Host keys are checked either way.'),
        ],
    },
    {
        name: 'accept-unknown-host-key',
        kind: 'boolean',
        default: 'false',
        description: 'Trust the host key on first use instead of known-hosts (prints the key to pin). Not recommended.',
        docDefault: '`false`',
        meaning: '*instead of `known-hosts`: trust on first use, with a warning that prints the key to pin',
        scope: 'all',
        flags: [
            flag('accept-unknown-host-key', '', "Trust a server's key on first use and print it to pin (not recommended)."),
        ],
    },
    {
        name: 'jump-host',
        kind: 'text',
        description: '[user@]host[:port] to connect through (ssh ProxyJump); its key is checked against known-hosts too.',
        docDefault: '',
        meaning: '`[user@]host[:port]` to connect through; its key is checked against `known-hosts` too',
        scope: 'all',
        flags: [
            flag('jump-host', '[USER@]HOST[:PORT]', 'Go through this host (ssh ProxyJump); its key is checked too.'),
        ],
    },
    {
        name: 'source',
        kind: 'text',
        description: 'Local directory to upload (relative to the workspace). Required for deploy.',
        docDefault: 'required for deploy/upload',
        meaning: "local directory to upload, relative to the workspace (not `/` or `/tmp`, which hold this tool's private directory with the key)",
        scope: 'uploads',
        flags: [
            flag('source', 'DIR', 'Local directory to upload, relative to the current directory (required).'),
        ],
    },
    {
        name: 'target',
        kind: 'text',
        required: true,
        description: 'Absolute path of the deploy root on the server (releases/, the link and .deploy/ live inside).',
        docDefault: 'required',
        meaning: 'absolute path of the deploy root on the server; a directory of its own, not a system one (`/`, `/etc`, `/usr`, `/var`, `/home`, `/proc/…` are refused)',
        scope: 'all',
        flags: [
            flag('target', 'PATH', 'Absolute deploy root on the server, e.g. /var/www/example.com (required).'),
        ],
    },
    {
        name: 'link-name',
        kind: 'text',
        default: 'current',
        description: 'Name of the symlink inside target that the web server serves from.',
        docDefault: '`current`',
        meaning: 'name of the symlink inside `target` that the web server serves',
        scope: 'all',
        flags: [
            flag('link-name', 'NAME', 'The symlink in the target the web server serves from (default: current).'),
        ],
    },
    {
        name: 'release-id',
        kind: 'text',
        description: 'Release directory name. Default UTC time + tag or short sha + a random part, e.g. 20261121T235501Z-v1.2.3-3f9a1c. For verify: the release to check (default: the live one).',
        docDefault: 'generated',
        meaning: '`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`; default UTC time + tag or short sha + 6 random hex digits (two runs in the same second never collide), e.g. `20261121T235501Z-v1.2.3-3f9a1c`; for `verify`: the release to check (default: the live one)',
        scope: ['releaseId', 'verifies'],
        flags: [
            flag('release-id', 'ID', 'Name of the new release (default: UTC time + tag or short commit). Required for upload and activate. For verify: the release to check (default: the live one).'),
            flag('release', 'ID', 'Same as --release-id.', { hidden: true }),
        ],
    },
    {
        name: 'command',
        kind: 'command',
        default: 'deploy',
        description: 'deploy, rollback, list, prune or unlock (doctor checks the server and changes nothing; verify proves what a release holds); for fleets split across jobs, upload (per host) then activate (all hosts).',
        docDefault: '`deploy`',
        meaning: '`deploy`, `rollback`, `list`, `prune`, `unlock`, `doctor`, `verify`; for fleets split across jobs: `upload`, `activate`',
    },
    {
        name: 'rollback-to',
        kind: 'text',
        description: 'Release id to roll back to. Empty means the release that was live before the current one.',
        docDefault: 'previous',
        meaning: 'release id to roll back to; empty means the release that was live before the current one',
        scope: 'picksRelease',
        flags: [
            flag('to', 'ID', 'Release to roll back to (default: the good one that was live before). Also --rollback-to.'),
            flag('rollback-to', 'ID', 'Same as --to.', { hidden: true }),
        ],
    },
    {
        name: 'keep-releases',
        kind: 'number',
        default: '5',
        description: 'Good releases kept after each deploy (0 keeps all). The live one and its rollback target are never deleted.',
        docDefault: '`5`',
        meaning: 'good releases kept after each deploy (`0` keeps all); the live one and its rollback target are never deleted',
        scope: 'prunes',
        flags: [
            flag('keep-releases', 'N', 'Good releases kept (default: 5; 0 keeps all). The live one and its rollback target always stay.'),
        ],
    },
    {
        name: 'exclude',
        kind: 'lines',
        description: 'rsync exclude patterns, one per line.',
        docDefault: '',
        meaning: 'rsync exclude patterns, one per line; every line counts, `#` ones too (`#*#` is a pattern, there are no comment lines)',
        scope: 'uploads',
        flags: [flag('exclude', 'PATTERN', 'rsync exclude pattern (repeatable).')],
    },
    {
        name: 'filter',
        kind: 'lines',
        description: 'rsync filter rules, one per line.',
        docDefault: '',
        meaning: 'rsync filter rules, one per line (no comment lines)',
        scope: 'uploads',
        flags: [flag('filter', 'RULE', 'rsync filter rule (repeatable).')],
    },
    {
        name: 'chmod',
        kind: 'text',
        description: 'rsync --chmod spec applied during the transfer. Default u+rwX,go+rX,go-w (readable by all, writable by owner only).',
        docDefault: '`u+rwX,go+rX,go-w`',
        meaning: 'rsync `--chmod` applied during the transfer (readable by all, writable by the owner only)',
        scope: 'uploads',
        flags: [
            flag('chmod', 'SPEC', 'rsync --chmod spec applied during the transfer (default: u+rwX,go+rX,go-w).'),
        ],
    },
    {
        name: 'shared',
        kind: 'lines',
        description: 'Paths (one per line, relative to the release) kept in target/shared and symlinked into every release, e.g. storage or public/uploads.',
        docDefault: '',
        meaning: 'paths (one per line) kept in `target/shared/` and symlinked into every release, e.g. `storage`',
        scope: 'releaseId',
        flags: [
            flag('shared', 'PATH', 'Path kept in TARGET/shared and linked into every release, e.g. storage (repeatable).'),
        ],
    },
    {
        name: 'keep-assets',
        kind: 'list',
        description: 'Patterns (newlines or commas, relative to the release, e.g. assets/** or _next/static/**) of files that stay reachable after a switch: those of the last keep-assets-releases releases that the new build lacks are hard-linked into it.',
        docDefault: '',
        meaning: 'patterns (newlines or commas, relative to the release: `assets/**`, `_next/static/**`, `*.js`) of old files kept reachable: those of the last `keep-assets-releases` releases that the new build lacks are hard-linked into it before it goes live (see [Old assets stay reachable](#old-assets-stay-reachable-keep-assets))',
        scope: 'switches',
        flags: [
            flag('keep-assets', 'PATTERN', 'Keep old files matching PATTERN (e.g. assets/**) reachable: hard-linked from the last releases when the new build lacks them (repeatable).'),
        ],
    },
    {
        name: 'keep-assets-releases',
        kind: 'number',
        default: '2',
        description: 'How many of the last releases keep-assets keeps files from (the live one first).',
        docDefault: '`2`',
        meaning: 'how many of the last releases `keep-assets` keeps files from (the live one first); a file lives at most that many releases past the build that had it',
        scope: 'switches',
        flags: [
            flag('keep-assets-releases', 'N', 'How many of the last releases --keep-assets keeps files from (default: 2).'),
        ],
    },
    {
        name: 'before-switch',
        kind: 'script',
        description: 'Shell script run on the server (sh, in the new release) before it goes live. If it fails nothing switches.',
        docDefault: '',
        meaning: 'shell script run on the server (`sh`, in the new release) before it goes live; failure = nothing switches',
        mayHoldKey: true,
        scope: 'switches',
        flags: [
            flag('before-switch', 'SCRIPT', 'Shell script run on the server in the new release before it goes live; failure = no switch.'),
        ],
    },
    {
        name: 'after-switch',
        kind: 'script',
        description: 'Shell script run on the server after the switch, e.g. reload a service or reset PHP opcache.',
        docDefault: '',
        meaning: 'shell script run on the server after the switch, e.g. reload a service',
        mayHoldKey: true,
        scope: 'switches',
        flags: [
            flag('after-switch', 'SCRIPT', 'Shell script run on the server after the switch (reload a service).'),
        ],
    },
    {
        name: 'healthcheck-url',
        kind: 'text',
        description: 'URL that must answer 2xx after the switch (retried with backoff for up to a minute), else the switch is reverted.',
        docDefault: '',
        meaning: "URL that must answer 2xx after the switch (retried for up to a minute), else the switch is reverted. `user:password@` is sent as Basic auth; the userinfo and query values are masked in every message; redirects are followed only on the URL's own host",
        scope: 'switches',
        flags: [
            flag('healthcheck-url', 'URL', 'URL that must answer 2xx after the switch, else the switch is reverted.'),
        ],
    },
    {
        name: 'rollback-on-failure',
        kind: 'boolean',
        default: 'true',
        description: 'Switch back when after-switch or the health check fails.',
        docDefault: '`true`',
        meaning: 'revert the switch when `after-switch` or the health check fails',
        scope: 'switches',
        flags: [
            flag('rollback-on-failure', '', 'Revert the switch when after-switch or the health check fails (the default).'),
            flag('no-rollback-on-failure', '', 'Keep the new release live even then.', { sets: 'false' }),
        ],
    },
    {
        name: 'dry-run',
        kind: 'boolean',
        default: 'false',
        description: 'Connect and check everything, show what would be sent and what would switch; change nothing.',
        docDefault: '`false`',
        meaning: 'connect and check everything, list what would be sent and what would switch; change nothing',
        scope: 'uploads',
        flags: [flag('dry-run', '', 'Show what would be sent and what would switch; change nothing.')],
    },
    {
        name: 'allow-empty',
        kind: 'boolean',
        default: 'false',
        description: 'Deploy a release with no files (an empty source, or exclude/filter that leave nothing) on purpose; without it such a release is refused.',
        docDefault: '`false`',
        meaning: 'deploy a release with no files on purpose; without it an empty `source`, or `exclude`/`filter` that leave nothing, is refused and nothing changes',
        scope: 'uploads',
        flags: [
            flag('allow-empty', '', 'Deploy a release with no files on purpose (else an empty one is refused).'),
        ],
    },
    {
        name: 'max-parallel',
        kind: 'number',
        default: '8',
        description: 'Hosts worked on at once.',
        docDefault: '`8`',
        meaning: 'hosts worked on at once',
        scope: 'all',
        flags: [flag('max-parallel', 'N', 'Hosts worked on at once (default: 8).')],
    },
    {
        name: 'timeout',
        kind: 'number',
        default: '600',
        description: 'Seconds for the whole step before it gives up cleanly (the live release stays as it was).',
        docDefault: '`600`',
        meaning: 'seconds for the whole step before it gives up cleanly',
        scope: 'all',
        flags: [flag('timeout', 'SECONDS', 'For the whole command, then it stops cleanly (default: 600).')],
    },
    {
        name: 'expected-digest',
        kind: 'text',
        description: 'For verify: the release-digest the release must have (sha256: and 64 hex digits, as the deploy that built it output).',
        docDefault: '',
        meaning: 'for `verify`: the `release-digest` the release must have (`sha256:` + 64 hex digits, as the deploy of that build output it)',
        scope: 'verifies',
        flags: [
            flag('expected-digest', 'DIGEST', 'The release-digest the release must have (sha256:…, as the deploy of that build printed it).'),
        ],
    },
];
/** Every input, in action.yml's order (the help's order too). */
const INPUTS = TABLE;
const BY_NAME = new Map(INPUTS.map((i) => [i.name, i]));
function inputSpec(name) {
    return BY_NAME.get(name);
}
/** The default action.yml passes for an input ('' = none). */
function defaultOf(name) {
    return inputSpec(name).default ?? '';
}


/***/ }),

/***/ 8679:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  L1: () => (/* binding */ Ssh),
  JG: () => (/* binding */ anySignal),
  V0: () => (/* binding */ refusedSession),
  gB: () => (/* binding */ removeSshDir)
});

// UNUSED EXPORTS: CONNECT_TIMEOUT, aliasOf, ownHostArgs, removeOrphanDirs, renderSshConfig, userConfigProblem

// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __nccwpck_require__(3024);
// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __nccwpck_require__(1455);
// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __nccwpck_require__(8161);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __nccwpck_require__(6760);
var external_node_path_default = /*#__PURE__*/__nccwpck_require__.n(external_node_path_);
// EXTERNAL MODULE: ./src/env.ts
var src_env = __nccwpck_require__(8204);
// EXTERNAL MODULE: ./src/errors.ts
var errors = __nccwpck_require__(3916);
// EXTERNAL MODULE: ./src/hints.ts
var hints = __nccwpck_require__(9957);
// EXTERNAL MODULE: ./src/knownhosts.ts
var knownhosts = __nccwpck_require__(4041);
;// CONCATENATED MODULE: external "node:net"
const external_node_net_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:net");
var external_node_net_default = /*#__PURE__*/__nccwpck_require__.n(external_node_net_namespaceObject);
;// CONCATENATED MODULE: ./src/mux.ts
/**
 * OpenSSH's control socket, spoken directly for the one request made of it at the end of a run:
 * a master is asked to exit, as `ssh -O exit` asks it (PROTOCOL.mux: each side says hello, then
 * MUX_C_TERMINATE, answered MUX_S_OK). A spawned ssh costs the last step of every deploy 15-20 ms
 * on a 2-core runner (the spawn blocks Node's event loop 3-8 ms, then ssh starts and reads its
 * config); this takes about one.
 */

const MUX_MSG_HELLO = 0x00000001;
const MUX_C_TERMINATE = 0x10000005;
const MUX_S_OK = 0x80000001;
const MUX_VERSION = 4;
/** Far above any reply to these two messages: a longer one is not a master speaking. */
const MAX_PACKET = 64 * 1024;
/** One packet: its length, then 32-bit words (big-endian). */
function muxPacket(...words) {
    const b = Buffer.alloc(4 + 4 * words.length);
    b.writeUInt32BE(4 * words.length, 0);
    for (const [i, w] of words.entries())
        b.writeUInt32BE(w >>> 0, 4 + 4 * i);
    return b;
}
/** Splits whole packets off `buf`; `rest` is an incomplete one (or undefined: not a master speaking). */
function muxPackets(buf) {
    const packets = [];
    let at = 0;
    while (buf.length - at >= 4) {
        const len = buf.readUInt32BE(at);
        if (len < 4 || len > MAX_PACKET)
            return undefined;
        if (buf.length - at - 4 < len)
            break;
        packets.push(buf.subarray(at + 4, at + 4 + len));
        at += 4 + len;
    }
    return { packets, rest: buf.subarray(at) };
}
/** Whether something still accepts on `socketPath` (a master that has not exited yet). */
function listening(socketPath) {
    return new Promise((resolve) => {
        const sock = external_node_net_default().connect({ path: socketPath });
        sock.on('connect', () => {
            sock.destroy();
            resolve(true);
        });
        // ENOENT (unlinked) or ECONNREFUSED (a socket file no one listens on): nothing is there.
        sock.on('error', () => resolve(false));
    });
}
/**
 * Asks the master listening at `socketPath` to exit, and answers whether it is gone: true when
 * nothing listens there any more (or never did), false when it may still run (another reply, or
 * `timeoutMs` passed). The master often exits before its MUX_S_OK leaves (as mux.c says), so a
 * close after the request is checked: the socket must stop accepting within the time left.
 */
async function terminateMaster(socketPath, timeoutMs) {
    const until = Date.now() + timeoutMs;
    const answer = await new Promise((resolve) => {
        let said = false;
        let buf = Buffer.alloc(0);
        const sock = external_node_net_default().connect({ path: socketPath });
        const end = (how) => {
            clearTimeout(timer);
            sock.destroy();
            resolve(how);
        };
        const timer = setTimeout(() => end('no'), timeoutMs);
        let connected = false;
        sock.on('error', () => end(!connected ? 'none' : said ? 'closed' : 'no'));
        sock.on('close', () => end(said ? 'closed' : 'no'));
        sock.on('connect', () => {
            connected = true;
            sock.write(muxPacket(MUX_MSG_HELLO, MUX_VERSION));
        });
        sock.on('data', (d) => {
            const got = muxPackets(Buffer.concat([buf, d]));
            if (!got)
                return end('no');
            buf = got.rest;
            for (const p of got.packets) {
                const type = p.readUInt32BE(0);
                if (!said) {
                    // The master's hello: version 4, then extensions we do not need.
                    if (type !== MUX_MSG_HELLO || p.length < 8 || p.readUInt32BE(4) !== MUX_VERSION)
                        return end('no');
                    said = true;
                    sock.write(muxPacket(MUX_C_TERMINATE, 0));
                }
                else {
                    // MUX_S_OK echoes our request id (0); a refusal (MUX_S_PERMISSION_DENIED) is anything else.
                    return end(type === MUX_S_OK && p.length >= 8 && p.readUInt32BE(4) === 0 ? 'ok' : 'no');
                }
            }
        });
    });
    if (answer === 'none')
        return true;
    if (answer === 'no')
        return false;
    // Said yes (or closed after the request): gone once the socket stops accepting.
    while (await listening(socketPath)) {
        if (Date.now() >= until)
            return false;
        await new Promise((r) => setTimeout(r, 10));
    }
    return true;
}

// EXTERNAL MODULE: ./src/proc.ts + 1 modules
var proc = __nccwpck_require__(7684);
;// CONCATENATED MODULE: ./src/ssh-facts.ts




/**
 * The facts explainSshFailure (hints.ts, pure) needs about a failed connection, gathered on this
 * machine with ssh-keyscan / ssh-keygen: only those the error calls for.
 */
async function gatherSshFacts(stderr, ctx) {
    const need = (0,hints/* sshFactsNeeded */.lI)(stderr, ctx);
    const facts = {};
    if (need.offeredKeys)
        facts.offered = await offeredKeys(ctx);
    if (need.keyChecks) {
        const keygen = ctx.sshPath.replace(/ssh$/, 'ssh-keygen');
        if (!ctx.passphraseGiven) {
            const y = await (0,proc/* run */.e)(keygen, ['-y', '-P', '', '-f', ctx.keyPath]).catch(() => undefined);
            facts.keyNeedsPassphrase = y !== undefined && y.code !== 0 && /passphrase/i.test(y.stderr);
        }
        if (!facts.keyNeedsPassphrase) {
            const r = await (0,proc/* run */.e)(keygen, ['-lf', ctx.keyPath]).catch(() => undefined);
            facts.keyFingerprint = r?.code === 0 ? r.stdout : '';
        }
    }
    return facts;
}
/**
 * The key the server offers, read through the jump host the way the deploy connects (ssh-keyscan
 * cannot use a proxy): one ssh that records the key in a scratch file and then offers no
 * authentication at all, so nothing logs in to a server whose key is not trusted.
 */
function jumpScanArgs(jump, knownHostsFile) {
    return [
        '-F',
        jump.config,
        '-S',
        'none',
        '-o',
        'ControlMaster=no',
        ...scanOnlyOptions(knownHostsFile),
        '-o',
        'ConnectTimeout=5',
        jump.alias,
        'true',
    ];
}
/**
 * ssh options that make a connection only learn the server's key (into `knownHostsFile`) and then
 * offer no authentication at all: a key scan that can go through a jump host.
 */
function scanOnlyOptions(knownHostsFile) {
    return [
        '-o',
        'StrictHostKeyChecking=accept-new',
        '-o',
        `UserKnownHostsFile=${knownHostsFile}`,
        '-o',
        'GlobalKnownHostsFile=/dev/null',
        '-o',
        'KnownHostsCommand=none',
        '-o',
        'PreferredAuthentications=none',
        '-o',
        'PubkeyAuthentication=no',
        '-o',
        'BatchMode=yes',
    ];
}
async function scanThroughJump(jump) {
    const file = external_node_path_default().join(external_node_path_default().dirname(jump.config), `scan-${jump.alias}`);
    try {
        await (0,proc/* run */.e)(jump.sshPath, jumpScanArgs(jump, file), { signal: AbortSignal.timeout(15_000) });
        return (0,external_node_fs_.readFileSync)(file, 'utf8')
            .split('\n')
            .filter((l) => l && !l.startsWith('#'));
    }
    finally {
        (0,external_node_fs_.rmSync)(file, { force: true });
    }
}
/** What the server offers, as known_hosts lines and their fingerprints; undefined when the scan failed. */
async function offeredKeys(ctx) {
    const host = ctx.host;
    if (!host)
        return undefined;
    try {
        let lines;
        if (ctx.jump)
            lines = await scanThroughJump(ctx.jump);
        else {
            const keyscan = ctx.sshPath.replace(/ssh$/, 'ssh-keyscan');
            const scan = await (0,proc/* run */.e)(keyscan, ['-T', '5', '-p', String(host.port), host.host]);
            lines = scan.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
        }
        if (lines.length === 0)
            return { lines, fingerprints: '' };
        const fp = await (0,proc/* run */.e)(ctx.sshPath.replace(/ssh$/, 'ssh-keygen'), ['-lf', '-'], {
            input: `${lines.join('\n')}\n`,
        });
        return { lines, fingerprints: fp.stdout.trim() };
    }
    catch {
        return undefined;
    }
}

;// CONCATENATED MODULE: ./src/ssh.ts











/**
 * What ssh says of a ~/.ssh/config others could change ("Bad owner or permissions"), or '' when it
 * is fine or absent. ssh refuses such a file; through our Include it would not check, so we do.
 */
function userConfigProblem(file, uid) {
    let st;
    try {
        st = (0,external_node_fs_.statSync)(file);
    }
    catch {
        return '';
    }
    if ((st.uid !== uid && st.uid !== 0) || (st.mode & 0o022) !== 0) {
        return `Bad owner or permissions on ${file}: ssh itself refuses to use it (it must be yours and writable by you only).`;
    }
    return '';
}
/** Known hosts are ours (a file we write) unless the person's own setup decides them. */
function ourKnownHosts(opts) {
    const t = opts.trusted;
    return !opts.useOwnSshSetup || t.lines.length > 0 || t.fingerprints.length > 0 || opts.acceptUnknownHostKey;
}
/**
 * Own-setup mode: how host `h` is named on ssh's command line. A `Host` block of ours would hide
 * the person's `Host` blocks (ssh matches them against the name typed), so what was given
 * explicitly goes in `-o` options (argv wins over every config file) and the name is the one
 * they typed. Port 22 is the default: left to their config (or ssh's own default, 22).
 */
function ownHostArgs(h, jump) {
    const args = [];
    if (h.user)
        args.push('-o', `User=${h.user}`);
    if (h.port !== 22)
        args.push('-o', `Port=${h.port}`);
    if (jump)
        args.push('-o', `ProxyJump=${jump.label}`);
    return [...args, h.host];
}
const CONNECT_TIMEOUT = 15;
function aliasOf(index) {
    return `rad-${index}`;
}
/** The ssh_config we generate: pure, so a unit test can read every option. */
function renderSshConfig(opts, paths) {
    const out = ['# written by rsync-atomic-deploy; deleted when the step ends'];
    const hostBlock = (alias, h, jump) => {
        // ssh expands %-tokens in HostName: an IPv6 zone (fe80::1%eth0) must be written %%.
        out.push(`Host ${alias}`, `  HostName ${h.host.replace(/%/g, '%%')}`, `  Port ${h.port}`);
        if (h.user)
            out.push(`  User ${h.user}`);
        // ProxyJump would be simpler, but with ControlPersist ssh sends the jump's stderr to
        // /dev/null: the same hop as a ProxyCommand with -E keeps its errors (host key!) readable.
        if (jump)
            out.push(`  ProxyCommand ${paths.sshBinary} -F ${paths.config} -E ${paths.jumpLog} -W [%h]:%p rad-jump`);
    };
    const own = opts.useOwnSshSetup === true;
    // Own setup: no aliases of ours; hosts go by their own names (ownHostArgs).
    if (!own) {
        opts.hosts.forEach((h, i) => {
            hostBlock(aliasOf(i), h, opts.jumpHost !== undefined);
        });
        if (opts.jumpHost)
            hostBlock('rad-jump', opts.jumpHost, false);
    }
    out.push('Host *');
    if (!own || opts.key !== '') {
        out.push(`  IdentityFile ${paths.key}`, '  IdentitiesOnly yes', '  IdentityAgent none');
    }
    if (ourKnownHosts(opts)) {
        const t = opts.trusted;
        if (own && t.lines.length === 0 && t.fingerprints.length === 0) {
            // accept-unknown-host-key on a laptop: keys already known still count (a changed one is
            // refused); a new one is learned into our file only, to be printed for pinning.
            out.push(`  UserKnownHostsFile ${paths.knownHosts} ~/.ssh/known_hosts ~/.ssh/known_hosts2`);
        }
        else {
            out.push(`  UserKnownHostsFile ${paths.knownHosts}`, '  GlobalKnownHostsFile /dev/null');
        }
        if (t.fingerprints.length > 0) {
            out.push(`  KnownHostsCommand ${paths.fingerprintCheck} %f %t %K %H`);
        }
    }
    out.push(`  StrictHostKeyChecking ${opts.acceptUnknownHostKey ? 'accept-new' : 'yes'}`);
    // Own setup: CheckHostIP and the auth methods stay the person's choice (never weaker: BatchMode).
    if (!own)
        out.push('  CheckHostIP no');
    out.push('  UpdateHostKeys no', '  HashKnownHosts no', '  BatchMode yes', '  PasswordAuthentication no', '  KbdInteractiveAuthentication no');
    if (!own)
        out.push('  PreferredAuthentications publickey');
    out.push(`  ConnectTimeout ${CONNECT_TIMEOUT}`, '  ConnectionAttempts 1', '  ServerAliveInterval 15', '  ServerAliveCountMax 4', '  ForwardAgent no', '  ForwardX11 no', '  ClearAllForwardings yes', '  RequestTTY no', '  LogLevel ERROR', 
    // Our aliases name the sockets (rad-0: closeAll speaks to it); own setup: ssh's hash of the host.
    `  ControlPath ${paths.dir}/${own ? '%C' : '%n'}`, '  ControlMaster no', `  ControlPersist ${opts.persistSeconds}`);
    if (own) {
        // What `ssh HOST` reads without -F, in the same order, after ours (ssh keeps the first value).
        out.push('  Include ~/.ssh/config', '  Include /etc/ssh/ssh_config');
    }
    return `${out.join('\n')}\n`;
}
const ASKPASS = `#!/bin/sh
# ssh asks for the key's passphrase through here (SSH_ASKPASS), so it never reaches argv.
# Each call is counted: a second one means the first answer was wrong.
echo x >> "$RAD_ASKPASS_COUNT"
printf '%s\\n' "$RAD_KEY_PASSPHRASE"
`;
class Ssh {
    opts;
    paths;
    sshPath;
    /** Hosts whose master runs, with the words that name them to ssh. */
    masters = new Map();
    /** Each host's one attempt to connect, begun by whoever asked first (see connect). */
    connecting = new Map();
    /** Stops attempts still under way when the run ends before it needs them (dispose). */
    closing = new AbortController();
    /** Hosts whose attempt was stopped: ssh may have forked its master just before. */
    stopped = new Set();
    constructor(opts, paths, sshPath) {
        this.opts = opts;
        this.paths = paths;
        this.sshPath = sshPath;
    }
    get configPath() {
        return this.paths.config;
    }
    /**
     * Creates the private directory and its files. `onDir` is called before any secret is written,
     * so the post step can delete the directory even if we are killed right after.
     */
    static async create(opts, sshPath, onDir) {
        if (opts.useOwnSshSetup) {
            // Included from our config, ssh would not check it as it checks ~/.ssh/config itself.
            const problem = userConfigProblem(external_node_path_default().join((0,external_node_os_.userInfo)().homedir, '.ssh/config'), process.getuid?.() ?? 0);
            if (problem)
                throw new errors/* DeployError */.s(problem, 'Make it yours and private: chmod 600 ~/.ssh/config', 'ssh-config');
        }
        await removeOrphanDirs(sshPath);
        // Synchronous: a few small files the connection waits for (awaited one by one, ~15 ms of the start).
        const dir = (0,external_node_fs_.mkdtempSync)('/tmp/rad-');
        (0,external_node_fs_.chmodSync)(dir, 0o700);
        onDir(dir);
        (0,external_node_fs_.writeFileSync)(external_node_path_default().join(dir, OWNER_FILE), `${opts.ownerPid ?? process.pid}\n`, { mode: 0o600 });
        const paths = {
            dir,
            config: external_node_path_default().join(dir, 'config'),
            jumpLog: external_node_path_default().join(dir, 'jump.log'),
            sshBinary: sshPath,
            key: external_node_path_default().join(dir, 'key'),
            knownHosts: external_node_path_default().join(dir, 'known_hosts'),
            fingerprints: external_node_path_default().join(dir, 'fingerprints'),
            fingerprintCheck: external_node_path_default().join(dir, 'hostkey-check'),
        };
        const ssh = new Ssh(opts, paths, sshPath);
        if (!opts.useOwnSshSetup || opts.key !== '') {
            (0,external_node_fs_.writeFileSync)(paths.key, opts.key, { mode: 0o600 });
            if (opts.keyPassphrase) {
                (0,external_node_fs_.writeFileSync)(external_node_path_default().join(dir, 'askpass'), ASKPASS, { mode: 0o700 });
            }
        }
        if (ourKnownHosts(opts)) {
            const ports = [...opts.hosts, ...(opts.jumpHost ? [opts.jumpHost] : [])].map((h) => h.port);
            (0,external_node_fs_.writeFileSync)(paths.knownHosts, (0,knownhosts/* renderKnownHosts */.vS)(opts.trusted, ports), { mode: 0o600 });
            if (opts.trusted.fingerprints.length > 0) {
                (0,external_node_fs_.writeFileSync)(paths.fingerprints, `${opts.trusted.fingerprints.join('\n')}\n`, { mode: 0o600 });
                (0,external_node_fs_.writeFileSync)(paths.fingerprintCheck, (0,knownhosts/* fingerprintCheckScript */._d)(paths.fingerprints), { mode: 0o700 });
            }
        }
        (0,external_node_fs_.writeFileSync)(ssh.configPath, renderSshConfig(opts, paths), { mode: 0o600 });
        return ssh;
    }
    /** `ssh -F config`: what rsync gets as its -e (split on spaces by rsync: our paths have none). */
    get rshCommand() {
        return `${this.sshPath} -F ${this.configPath}`;
    }
    /** The words that name host `index` on ssh's command line, after `-F config`. */
    hostArgs(index) {
        const h = this.opts.hosts[index];
        if (!this.opts.useOwnSshSetup || !h)
            return [aliasOf(index)];
        return ownHostArgs(h, this.opts.jumpHost);
    }
    /**
     * rsync's -e and `host:path` destination for host `index` (no word of -e has a space).
     * `muxOnly`: over the master or not at all (as exec's muxOnly): an rsync started beside another
     * session, which a server allowing one session refuses, must fail rather than connect on its own.
     */
    rsyncRemote(index, remotePath, muxOnly = false) {
        const words = this.hostArgs(index);
        const name = words.pop() ?? '';
        return {
            rsh: [this.rshCommand, ...(muxOnly ? ['-o', 'ProxyCommand=false'] : []), ...words].join(' '),
            destination: `${name.includes(':') ? `[${name}]` : name}:${remotePath}`,
        };
    }
    /** The environment of ssh and of rsync (which runs ssh): no INPUT_*, no key, no passphrase. */
    childEnv() {
        const env = (0,src_env/* childEnv */.g)(process.env, {
            own: this.opts.useOwnSshSetup === true,
            secrets: [this.opts.keyPassphrase],
        });
        if (!this.opts.useOwnSshSetup)
            delete env.SSH_AUTH_SOCK;
        delete env.SSH_ASKPASS;
        return env;
    }
    baseEnv() {
        return this.childEnv();
    }
    /**
     * Opens the one connection every later step of this host shares. The first call starts it; a
     * later one (the command's own step, after runCommand began it while the rest got ready) gets
     * the same attempt and its outcome, never a second connection.
     */
    connect(index, label, signal) {
        let attempt = this.connecting.get(index);
        if (!attempt) {
            attempt = this.openMaster(index, label, anySignal(signal, this.closing.signal));
            // Awaited by the command's step; a run that ends first never asks (dispose closes it).
            attempt.catch(() => { });
            this.connecting.set(index, attempt);
        }
        return attempt;
    }
    async openMaster(index, label, signal) {
        const alias = aliasOf(index);
        const errFile = external_node_path_default().join(this.paths.dir, `${alias}.err`);
        const args = ['-F', this.configPath, '-M', '-N', '-f', '-o', 'ControlMaster=yes'];
        const env = this.baseEnv();
        const countFile = external_node_path_default().join(this.paths.dir, `${alias}.askpass`);
        if (this.opts.keyPassphrase) {
            // BatchMode forbids any prompt, the askpass one too; nothing else can prompt (no passwords).
            args.push('-o', 'BatchMode=no');
            env.SSH_ASKPASS = external_node_path_default().join(this.paths.dir, 'askpass');
            env.SSH_ASKPASS_REQUIRE = 'force';
            env.RAD_KEY_PASSPHRASE = this.opts.keyPassphrase;
            env.RAD_ASKPASS_COUNT = countFile;
            env.DISPLAY = env.DISPLAY ?? ':0';
        }
        args.push(...this.hostArgs(index));
        // The master daemonises (-f); its stderr goes to a file so no pipe of ours stays open behind it.
        const fd = (0,external_node_fs_.openSync)(errFile, 'w', 0o600);
        let result;
        try {
            result = await (0,proc/* run */.e)(this.sshPath, args, { env, signal, stderrFd: fd });
        }
        finally {
            (0,external_node_fs_.closeSync)(fd);
        }
        let stderr = (0,external_node_fs_.readFileSync)(errFile, 'utf8');
        let failedAt = label;
        let failedHost = this.opts.hosts[index];
        let through;
        if (this.opts.jumpHost && !this.opts.useOwnSshSetup) {
            through = { sshPath: this.sshPath, config: this.configPath, alias: aliasOf(index) };
        }
        try {
            const jumpLog = (0,external_node_fs_.readFileSync)(this.paths.jumpLog, 'utf8').trim();
            if (jumpLog && this.opts.jumpHost) {
                stderr = `${jumpLog}\n${stderr}`;
                failedAt = `the jump host ${this.opts.jumpHost.label}`;
                failedHost = this.opts.jumpHost;
                through = undefined;
            }
        }
        catch { }
        if (result.aborted) {
            this.stopped.add(index);
            throw new errors/* DeployError */.s(`Connecting to ${label} was cancelled.`);
        }
        if (result.code !== 0) {
            let askpassCalls = 0;
            try {
                askpassCalls = (0,external_node_fs_.readFileSync)(countFile, 'utf8').split('\n').filter(Boolean).length;
            }
            catch { }
            const why = {
                label: failedAt,
                user: failedHost?.user ?? '',
                keyPath: this.paths.key,
                hasKey: !this.opts.useOwnSshSetup || this.opts.key !== '',
                ownSetup: this.opts.useOwnSshSetup === true,
                passphraseGiven: this.opts.keyPassphrase !== '',
                passphraseRejected: askpassCalls > 1,
                host: failedHost,
                sshPath: this.sshPath,
                jump: through,
                words: this.opts.words,
            };
            // The facts (key scan, key fingerprint) gathered here; classifying is pure (hints.ts).
            throw (0,hints/* explainSshFailure */.cB)(stderr, why, await gatherSshFacts(stderr, why));
        }
        this.masters.set(index, this.hostArgs(index));
    }
    /** The lines ssh wrote to known_hosts on first use (accept-unknown-host-key), to print for pinning. */
    async learnedHostKeys() {
        try {
            return await (0,promises_.readFile)(this.paths.knownHosts, 'utf8');
        }
        catch {
            return '';
        }
    }
    /**
     * Runs a constant script with `sh -s` over the host's master connection, or with `fresh` over a
     * new connection of its own (-S none), for when the master itself may be stuck.
     */
    exec(index, script, opts = {}) {
        const { fresh, command = 'sh -s', muxOnly, ...rest } = opts;
        const env = this.baseEnv();
        const own = [];
        if (muxOnly && !fresh)
            own.push('-o', 'ProxyCommand=false');
        if (fresh) {
            own.push('-S', 'none');
            if (this.opts.keyPassphrase) {
                // As in connect(): the passphrase reaches ssh through SSH_ASKPASS, never argv.
                own.push('-o', 'BatchMode=no');
                env.SSH_ASKPASS = external_node_path_default().join(this.paths.dir, 'askpass');
                env.SSH_ASKPASS_REQUIRE = 'force';
                env.RAD_KEY_PASSPHRASE = this.opts.keyPassphrase;
                env.RAD_ASKPASS_COUNT = external_node_path_default().join(this.paths.dir, `${aliasOf(index)}.askpass`);
                env.DISPLAY = env.DISPLAY ?? ':0';
            }
        }
        return (0,proc/* run */.e)(this.sshPath, ['-F', this.configPath, ...own, '-T', ...this.hostArgs(index), command], {
            env,
            input: script,
            // The script's watchdog stops it when this stdin ends: when we give up or the link drops.
            keepStdinOpen: true,
            ...rest,
        });
    }
    /**
     * The post step's way in: runs a script on host `index` through the private directory `dir` a
     * main step left, over a connection of its own (-S none: the master may be what hung).
     */
    static execInDir(dir, index, script, opts = {}) {
        return (0,proc/* run */.e)(opts.sshPath ?? 'ssh', ['-F', external_node_path_default().join(dir, 'config'), '-S', 'none', '-T', aliasOf(index), opts.command ?? 'sh -s'], {
            input: script,
            // As in exec(): the script's watchdog stops it when this stdin ends.
            keepStdinOpen: true,
            signal: opts.signal,
        });
    }
    /** Where host `index`'s master listens, when our alias names it (own setup: ssh's hash, %C). */
    socketOf(index) {
        return this.opts.useOwnSshSetup ? undefined : external_node_path_default().join(this.paths.dir, aliasOf(index));
    }
    /**
     * Closes every master: asked on its socket (mux.ts) where our alias names it, else by
     * `ssh -O exit`. Never throws. An attempt still under way is stopped first;
     * its master is asked to exit too, as ssh may have forked it just before it was stopped.
     */
    async closeAll() {
        this.closing.abort();
        await Promise.allSettled(this.connecting.values());
        this.connecting.clear();
        for (const index of this.stopped)
            this.masters.set(index, this.hostArgs(index));
        await Promise.all([...this.masters].map(async ([index, words]) => {
            const socket = this.socketOf(index);
            if (socket) {
                // Its socket is ours: asked there (a master deaf to it would be deaf to ssh -O exit too).
                await terminateMaster(socket, 3000);
                this.masters.delete(index);
                return;
            }
            try {
                // Bounded: a master stuck on a stalled link must not hold the end of the step back.
                await (0,proc/* run */.e)(this.sshPath, ['-F', this.configPath, '-O', 'exit', ...words], {
                    env: this.baseEnv(),
                    signal: AbortSignal.timeout(3000),
                });
            }
            catch { }
            this.masters.delete(index);
        }));
    }
    /** Closes our masters, then deletes the directory with the key (each master closed once). */
    async dispose() {
        await this.closeAll();
        // Synchronous: a few files, on the step's last path (awaited, rm took ~3 ms more).
        (0,external_node_fs_.rmSync)(this.paths.dir, { recursive: true, force: true });
    }
}
/**
 * The post step's clean-up: closes any master still listening in `dir` and deletes the directory
 * with the key (a cancelled main step may not have reached its own dispose()).
 */
async function removeSshDir(dir, sshPath = 'ssh') {
    if (!dir.startsWith('/tmp/rad-'))
        return;
    const config = external_node_path_default().join(dir, 'config');
    let aliases = [];
    try {
        aliases = [...(0,external_node_fs_.readFileSync)(config, 'utf8').matchAll(/^Host (rad-\d+|rad-jump)$/gm)].map((m) => m[1] ?? '');
    }
    catch { }
    for (const alias of aliases) {
        try {
            await (0,proc/* run */.e)(sshPath, ['-F', config, '-O', 'exit', alias], { signal: AbortSignal.timeout(3000) });
        }
        catch { }
    }
    await (0,promises_.rm)(dir, { recursive: true, force: true });
}
/**
 * ssh's words when the master's session request was refused: the remote command never ran. First
 * in stderr: the server's own text (a login shell's, a hook's) only comes once a session is open.
 */
const MUX_REFUSED = /^mux_client_request_session: session request failed/;
/**
 * Whether a run over the master was refused its session (a server that allows one at a time, not
 * yet done closing the last): nothing ran on the server, so it may be run again. Only ssh's own
 * refusal, before any output: never a script that ran and failed with those words in its stderr.
 */
function refusedSession(result, 
/** ssh itself (not rsync through it): it exits 255, which none of our scripts does. */
ssh = false) {
    if (ssh && result.code !== 255)
        return false;
    return result.code !== 0 && !result.aborted && result.stdout === '' && MUX_REFUSED.test(result.stderr);
}
/** Aborted when either is (AbortSignal.any is Node 20.3+). */
function anySignal(a, b) {
    if (!a)
        return b;
    const both = new AbortController();
    const stop = () => both.abort();
    if (a.aborted || b.aborted)
        stop();
    a.addEventListener('abort', stop, { once: true });
    b.addEventListener('abort', stop, { once: true });
    return both.signal;
}
/** Holds the pid of the process our private directory belongs to. */
const OWNER_FILE = 'owner';
/** Whether process `pid` exists (EPERM: it does, as another user's). */
function processExists(pid) {
    try {
        process.kill(pid, 0);
        return true;
    }
    catch (e) {
        return e.code === 'EPERM';
    }
}
/**
 * Removes our private directories left by runs that were killed (SIGKILL, a lost runner): their
 * master first, whose persisting connection would otherwise keep the target's lock looking held
 * for its whole ControlPersist time, then the key. Only ours (same uid), only when the recorded
 * owner process is gone; a directory without an owner record is left alone.
 */
async function removeOrphanDirs(sshPath = 'ssh', tmp = '/tmp') {
    const removed = [];
    let names = [];
    try {
        names = (0,external_node_fs_.readdirSync)(tmp).filter((n) => /^rad-[A-Za-z0-9]{6}$/.test(n));
    }
    catch {
        return removed;
    }
    const uid = process.getuid?.();
    for (const name of names) {
        const dir = external_node_path_default().join(tmp, name);
        try {
            const st = (0,external_node_fs_.lstatSync)(dir);
            if (!st.isDirectory() || (uid !== undefined && st.uid !== uid))
                continue;
            const pid = Number((0,external_node_fs_.readFileSync)(external_node_path_default().join(dir, OWNER_FILE), 'utf8').trim());
            if (!Number.isInteger(pid) || pid <= 0 || processExists(pid))
                continue;
            await removeSshDir(dir, sshPath);
            removed.push(dir);
        }
        catch { }
    }
    return removed;
}


/***/ }),

/***/ 2462:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   U: () => (/* binding */ State)
/* harmony export */ });
/** Every name saved with core.saveState, read back by the post step (STATE_<name>). */
const State = {
    IsPost: 'isPost',
    /** The private temp dir with the key: saved before the key is written. */
    SshDir: 'sshDir',
    /** JSON: which hosts still hold our deploy lock, so a cancelled run's post step can release it. */
    Locks: 'locks',
};


/***/ }),

/***/ 873:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   N5: () => (/* binding */ safeMessage),
/* harmony export */   QN: () => (/* binding */ shownLine),
/* harmony export */   bp: () => (/* binding */ untrusted),
/* harmony export */   g3: () => (/* binding */ LineSplitter),
/* harmony export */   mU: () => (/* binding */ untrustedLines)
/* harmony export */ });
/* unused harmony export MAX_SHOWN */
/**
 * Text from outside (what a server sends: replies, log fields, the lock's owner, hook output, a
 * login shell's words; names from a build) stays text. It never reaches a terminal as escape
 * sequences (colours, cursor moves, a window title, a hidden line) nor the runner as a workflow
 * command (`::add-mask::`, `::error::`, `::stop-commands::`): the runner reads a command from any
 * line that starts with `::` after white space, and it ends a line at `\n` or `\r`.
 */
/** Longest piece of one untrusted value we show (a hook's 300 MB line is cut, with its length said). */
const MAX_SHOWN = 4096;
// C0 controls, DEL, C1 controls (U+009B is a one-byte CSI on some terminals), the Unicode line and
// paragraph separators, and the bidi overrides that make a line read differently than it is.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
const CONTROL_BUT_NL_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
const NAMED = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };
function escapeChar(c) {
    const named = NAMED[c];
    if (named)
        return named;
    const code = c.charCodeAt(0);
    return code < 0x100
        ? `\\x${code.toString(16).padStart(2, '0')}`
        : `\\u${code.toString(16).padStart(4, '0')}`;
}
/**
 * THE escaping function for one untrusted value: one line, every control character shown as an
 * escape (`\n`, `\r`, `\e`, `\x07`, `\u202e`), cut to `max` characters (saying how much was cut).
 * Linear in the input; only the first `max` characters are examined.
 */
function untrusted(text, max = MAX_SHOWN) {
    const cut = text.length > max ? text.slice(0, max) : text;
    const shown = cut.replace(CONTROL, escapeChar);
    return text.length > max ? `${shown}… (${text.length - max} more characters)` : shown;
}
/** Several untrusted lines (a hook's stderr, a shell's words): each escaped, none empty at the end. */
function untrustedLines(text, maxLines = 20, max = MAX_SHOWN) {
    const lines = text.replace(/\n+$/, '').split('\n');
    return lines.slice(-maxLines).map((l) => untrusted(l, max));
}
/**
 * The last guard, at the front ends, for a whole message of ours (which may hold untrusted values
 * that an older path forgot to escape): our newlines stay, every other control character is
 * escaped, and neither a line that starts with `::` nor a `##[` anywhere can be read as a workflow
 * command.
 */
function safeMessage(message) {
    return (message
        .replace(CONTROL_BUT_NL_TAB, escapeChar)
        .split('\n')
        .map((l) => (/^\s*::/.test(l) ? `\\${l}` : l))
        // The runner also reads the older form `##[command]` anywhere in a line.
        .map((l) => l.replace(/##\[/g, '##\\['))
        .join('\n'));
}
/**
 * Splits a stream into lines in linear time however long a line gets: a chunk is scanned once, a
 * pending line is kept as pieces (never re-joined per chunk), and only its first `maxLine`
 * characters are kept (the rest is counted). `onLine` gets the kept text and how much was dropped.
 */
class LineSplitter {
    onLine;
    maxLine;
    parts = [];
    kept = 0;
    dropped = 0;
    constructor(onLine, maxLine = MAX_SHOWN) {
        this.onLine = onLine;
        this.maxLine = maxLine;
    }
    push(chunk) {
        let start = 0;
        for (;;) {
            const nl = chunk.indexOf('\n', start);
            if (nl < 0) {
                this.keep(chunk, start, chunk.length);
                return;
            }
            this.keep(chunk, start, nl);
            this.flush();
            start = nl + 1;
        }
    }
    /** The last line, when the stream ended without a newline. */
    end() {
        if (this.kept > 0 || this.dropped > 0)
            this.flush();
    }
    keep(chunk, from, to) {
        const room = this.maxLine - this.kept;
        const take = Math.min(room, to - from);
        if (take > 0) {
            this.parts.push(chunk.slice(from, from + take));
            this.kept += take;
        }
        this.dropped += to - from - take;
    }
    flush() {
        const line = this.parts.join('');
        const dropped = this.dropped;
        this.parts = [];
        this.kept = 0;
        this.dropped = 0;
        this.onLine(line, dropped);
    }
}
/** A line from a LineSplitter as shown: escaped, with what was cut said. */
function shownLine(line, dropped) {
    return `${untrusted(line, Number.MAX_SAFE_INTEGER)}${dropped > 0 ? `… (${dropped} more characters)` : ''}`;
}


/***/ }),

/***/ 5846:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   d: () => (/* binding */ ACTION_WORDS)
/* harmony export */ });
const ACTION_WORDS = {
    input: (name, value) => (value === undefined ? name : `${name}: ${value}`),
    command: (name) => `command: ${name}`,
};


/***/ }),

/***/ 9896:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("fs");

/***/ }),

/***/ 7598:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:crypto");

/***/ }),

/***/ 3024:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");

/***/ }),

/***/ 1455:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs/promises");

/***/ }),

/***/ 8995:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:module");

/***/ }),

/***/ 8161:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:os");

/***/ }),

/***/ 6760:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:path");

/***/ }),

/***/ 7975:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:util");

/***/ }),

/***/ 857:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("os");

/***/ }),

/***/ 9635:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   L: () => (/* binding */ issueCommand),
/* harmony export */   s: () => (/* binding */ issue)
/* harmony export */ });
/* harmony import */ var os__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(857);
/* harmony import */ var _utils_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(4679);


/**
 * Issues a command to the GitHub Actions runner
 *
 * @param command - The command name to issue
 * @param properties - Additional properties for the command (key-value pairs)
 * @param message - The message to include with the command
 * @remarks
 * This function outputs a specially formatted string to stdout that the Actions
 * runner interprets as a command. These commands can control workflow behavior,
 * set outputs, create annotations, mask values, and more.
 *
 * Command Format:
 *   ::name key=value,key=value::message
 *
 * @example
 * ```typescript
 * // Issue a warning annotation
 * issueCommand('warning', {}, 'This is a warning message');
 * // Output: ::warning::This is a warning message
 *
 * // Set an environment variable
 * issueCommand('set-env', { name: 'MY_VAR' }, 'some value');
 * // Output: ::set-env name=MY_VAR::some value
 *
 * // Add a secret mask
 * issueCommand('add-mask', {}, 'secretValue123');
 * // Output: ::add-mask::secretValue123
 * ```
 *
 * @internal
 * This is an internal utility function that powers the public API functions
 * such as setSecret, warning, error, and exportVariable.
 */
function issueCommand(command, properties, message) {
    const cmd = new Command(command, properties, message);
    process.stdout.write(cmd.toString() + os__WEBPACK_IMPORTED_MODULE_0__.EOL);
}
function issue(name, message = '') {
    issueCommand(name, {}, message);
}
const CMD_STRING = '::';
class Command {
    constructor(command, properties, message) {
        if (!command) {
            command = 'missing.command';
        }
        this.command = command;
        this.properties = properties;
        this.message = message;
    }
    toString() {
        let cmdStr = CMD_STRING + this.command;
        if (this.properties && Object.keys(this.properties).length > 0) {
            cmdStr += ' ';
            let first = true;
            for (const key in this.properties) {
                if (this.properties.hasOwnProperty(key)) {
                    const val = this.properties[key];
                    if (val) {
                        if (first) {
                            first = false;
                        }
                        else {
                            cmdStr += ',';
                        }
                        cmdStr += `${key}=${escapeProperty(val)}`;
                    }
                }
            }
        }
        cmdStr += `${CMD_STRING}${escapeData(this.message)}`;
        return cmdStr;
    }
}
function escapeData(s) {
    return (0,_utils_js__WEBPACK_IMPORTED_MODULE_1__/* .toCommandValue */ .E)(s)
        .replace(/%/g, '%25')
        .replace(/\r/g, '%0D')
        .replace(/\n/g, '%0A');
}
function escapeProperty(s) {
    return (0,_utils_js__WEBPACK_IMPORTED_MODULE_1__/* .toCommandValue */ .E)(s)
        .replace(/%/g, '%25')
        .replace(/\r/g, '%0D')
        .replace(/\n/g, '%0A')
        .replace(/:/g, '%3A')
        .replace(/,/g, '%2C');
}
//# sourceMappingURL=command.js.map

/***/ }),

/***/ 7063:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  n: () => (/* binding */ issueFileCommand),
  v: () => (/* binding */ prepareKeyValueMessage)
});

;// CONCATENATED MODULE: external "crypto"
const external_crypto_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("crypto");
// EXTERNAL MODULE: external "fs"
var external_fs_ = __nccwpck_require__(9896);
// EXTERNAL MODULE: external "os"
var external_os_ = __nccwpck_require__(857);
// EXTERNAL MODULE: ./node_modules/@actions/core/lib/utils.js
var utils = __nccwpck_require__(4679);
;// CONCATENATED MODULE: ./node_modules/@actions/core/lib/file-command.js
// For internal use, subject to change.
// We use any as a valid input type
/* eslint-disable @typescript-eslint/no-explicit-any */




function issueFileCommand(command, message) {
    const filePath = process.env[`GITHUB_${command}`];
    if (!filePath) {
        throw new Error(`Unable to find environment variable for file command ${command}`);
    }
    if (!external_fs_.existsSync(filePath)) {
        throw new Error(`Missing file at path: ${filePath}`);
    }
    external_fs_.appendFileSync(filePath, `${(0,utils/* toCommandValue */.E)(message)}${external_os_.EOL}`, {
        encoding: 'utf8'
    });
}
function prepareKeyValueMessage(key, value) {
    const delimiter = `ghadelimiter_${external_crypto_namespaceObject.randomUUID()}`;
    const convertedValue = (0,utils/* toCommandValue */.E)(value);
    // These should realistically never happen, but just in case someone finds a
    // way to exploit uuid generation let's not allow keys or values that contain
    // the delimiter.
    if (key.includes(delimiter)) {
        throw new Error(`Unexpected input: name should not contain the delimiter "${delimiter}"`);
    }
    if (convertedValue.includes(delimiter)) {
        throw new Error(`Unexpected input: value should not contain the delimiter "${delimiter}"`);
    }
    return `${key}<<${delimiter}${external_os_.EOL}${convertedValue}${external_os_.EOL}${delimiter}`;
}
//# sourceMappingURL=file-command.js.map

/***/ }),

/***/ 1170:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   z: () => (/* binding */ summary)
/* harmony export */ });
/* unused harmony exports SUMMARY_ENV_VAR, SUMMARY_DOCS_URL, markdownSummary */
/* harmony import */ var os__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(857);
/* harmony import */ var fs__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(9896);
var __awaiter = (undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};


const { access, appendFile, writeFile } = fs__WEBPACK_IMPORTED_MODULE_1__.promises;
const SUMMARY_ENV_VAR = 'GITHUB_STEP_SUMMARY';
const SUMMARY_DOCS_URL = 'https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions#adding-a-job-summary';
class Summary {
    constructor() {
        this._buffer = '';
    }
    /**
     * Finds the summary file path from the environment, rejects if env var is not found or file does not exist
     * Also checks r/w permissions.
     *
     * @returns step summary file path
     */
    filePath() {
        return __awaiter(this, void 0, void 0, function* () {
            if (this._filePath) {
                return this._filePath;
            }
            const pathFromEnv = process.env[SUMMARY_ENV_VAR];
            if (!pathFromEnv) {
                throw new Error(`Unable to find environment variable for $${SUMMARY_ENV_VAR}. Check if your runtime environment supports job summaries.`);
            }
            try {
                yield access(pathFromEnv, fs__WEBPACK_IMPORTED_MODULE_1__.constants.R_OK | fs__WEBPACK_IMPORTED_MODULE_1__.constants.W_OK);
            }
            catch (_a) {
                throw new Error(`Unable to access summary file: '${pathFromEnv}'. Check if the file has correct read/write permissions.`);
            }
            this._filePath = pathFromEnv;
            return this._filePath;
        });
    }
    /**
     * Wraps content in an HTML tag, adding any HTML attributes
     *
     * @param {string} tag HTML tag to wrap
     * @param {string | null} content content within the tag
     * @param {[attribute: string]: string} attrs key-value list of HTML attributes to add
     *
     * @returns {string} content wrapped in HTML element
     */
    wrap(tag, content, attrs = {}) {
        const htmlAttrs = Object.entries(attrs)
            .map(([key, value]) => ` ${key}="${value}"`)
            .join('');
        if (!content) {
            return `<${tag}${htmlAttrs}>`;
        }
        return `<${tag}${htmlAttrs}>${content}</${tag}>`;
    }
    /**
     * Writes text in the buffer to the summary buffer file and empties buffer. Will append by default.
     *
     * @param {SummaryWriteOptions} [options] (optional) options for write operation
     *
     * @returns {Promise<Summary>} summary instance
     */
    write(options) {
        return __awaiter(this, void 0, void 0, function* () {
            const overwrite = !!(options === null || options === void 0 ? void 0 : options.overwrite);
            const filePath = yield this.filePath();
            const writeFunc = overwrite ? writeFile : appendFile;
            yield writeFunc(filePath, this._buffer, { encoding: 'utf8' });
            return this.emptyBuffer();
        });
    }
    /**
     * Clears the summary buffer and wipes the summary file
     *
     * @returns {Summary} summary instance
     */
    clear() {
        return __awaiter(this, void 0, void 0, function* () {
            return this.emptyBuffer().write({ overwrite: true });
        });
    }
    /**
     * Returns the current summary buffer as a string
     *
     * @returns {string} string of summary buffer
     */
    stringify() {
        return this._buffer;
    }
    /**
     * If the summary buffer is empty
     *
     * @returns {boolen} true if the buffer is empty
     */
    isEmptyBuffer() {
        return this._buffer.length === 0;
    }
    /**
     * Resets the summary buffer without writing to summary file
     *
     * @returns {Summary} summary instance
     */
    emptyBuffer() {
        this._buffer = '';
        return this;
    }
    /**
     * Adds raw text to the summary buffer
     *
     * @param {string} text content to add
     * @param {boolean} [addEOL=false] (optional) append an EOL to the raw text (default: false)
     *
     * @returns {Summary} summary instance
     */
    addRaw(text, addEOL = false) {
        this._buffer += text;
        return addEOL ? this.addEOL() : this;
    }
    /**
     * Adds the operating system-specific end-of-line marker to the buffer
     *
     * @returns {Summary} summary instance
     */
    addEOL() {
        return this.addRaw(os__WEBPACK_IMPORTED_MODULE_0__.EOL);
    }
    /**
     * Adds an HTML codeblock to the summary buffer
     *
     * @param {string} code content to render within fenced code block
     * @param {string} lang (optional) language to syntax highlight code
     *
     * @returns {Summary} summary instance
     */
    addCodeBlock(code, lang) {
        const attrs = Object.assign({}, (lang && { lang }));
        const element = this.wrap('pre', this.wrap('code', code), attrs);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML list to the summary buffer
     *
     * @param {string[]} items list of items to render
     * @param {boolean} [ordered=false] (optional) if the rendered list should be ordered or not (default: false)
     *
     * @returns {Summary} summary instance
     */
    addList(items, ordered = false) {
        const tag = ordered ? 'ol' : 'ul';
        const listItems = items.map(item => this.wrap('li', item)).join('');
        const element = this.wrap(tag, listItems);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML table to the summary buffer
     *
     * @param {SummaryTableCell[]} rows table rows
     *
     * @returns {Summary} summary instance
     */
    addTable(rows) {
        const tableBody = rows
            .map(row => {
            const cells = row
                .map(cell => {
                if (typeof cell === 'string') {
                    return this.wrap('td', cell);
                }
                const { header, data, colspan, rowspan } = cell;
                const tag = header ? 'th' : 'td';
                const attrs = Object.assign(Object.assign({}, (colspan && { colspan })), (rowspan && { rowspan }));
                return this.wrap(tag, data, attrs);
            })
                .join('');
            return this.wrap('tr', cells);
        })
            .join('');
        const element = this.wrap('table', tableBody);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds a collapsable HTML details element to the summary buffer
     *
     * @param {string} label text for the closed state
     * @param {string} content collapsable content
     *
     * @returns {Summary} summary instance
     */
    addDetails(label, content) {
        const element = this.wrap('details', this.wrap('summary', label) + content);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML image tag to the summary buffer
     *
     * @param {string} src path to the image you to embed
     * @param {string} alt text description of the image
     * @param {SummaryImageOptions} options (optional) addition image attributes
     *
     * @returns {Summary} summary instance
     */
    addImage(src, alt, options) {
        const { width, height } = options || {};
        const attrs = Object.assign(Object.assign({}, (width && { width })), (height && { height }));
        const element = this.wrap('img', null, Object.assign({ src, alt }, attrs));
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML section heading element
     *
     * @param {string} text heading text
     * @param {number | string} [level=1] (optional) the heading level, default: 1
     *
     * @returns {Summary} summary instance
     */
    addHeading(text, level) {
        const tag = `h${level}`;
        const allowedTag = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].includes(tag)
            ? tag
            : 'h1';
        const element = this.wrap(allowedTag, text);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML thematic break (<hr>) to the summary buffer
     *
     * @returns {Summary} summary instance
     */
    addSeparator() {
        const element = this.wrap('hr', null);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML line break (<br>) to the summary buffer
     *
     * @returns {Summary} summary instance
     */
    addBreak() {
        const element = this.wrap('br', null);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML blockquote to the summary buffer
     *
     * @param {string} text quote text
     * @param {string} cite (optional) citation url
     *
     * @returns {Summary} summary instance
     */
    addQuote(text, cite) {
        const attrs = Object.assign({}, (cite && { cite }));
        const element = this.wrap('blockquote', text, attrs);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML anchor tag to the summary buffer
     *
     * @param {string} text link text/content
     * @param {string} href hyperlink
     *
     * @returns {Summary} summary instance
     */
    addLink(text, href) {
        const element = this.wrap('a', text, { href });
        return this.addRaw(element).addEOL();
    }
}
const _summary = new Summary();
/**
 * @deprecated use `core.summary`
 */
const markdownSummary = (/* unused pure expression or super */ null && (_summary));
const summary = _summary;
//# sourceMappingURL=summary.js.map

/***/ }),

/***/ 4679:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   E: () => (/* binding */ toCommandValue),
/* harmony export */   k: () => (/* binding */ toCommandProperties)
/* harmony export */ });
// We use any as a valid input type
/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Sanitizes an input into a string so it can be passed into issueCommand safely
 * @param input input to sanitize into a string
 */
function toCommandValue(input) {
    if (input === null || input === undefined) {
        return '';
    }
    else if (typeof input === 'string' || input instanceof String) {
        return input;
    }
    return JSON.stringify(input);
}
/**
 *
 * @param annotationProperties
 * @returns The command properties to send with the actual annotation command
 * See IssueCommandProperties: https://github.com/actions/runner/blob/main/src/Runner.Worker/ActionCommandManager.cs#L646
 */
function toCommandProperties(annotationProperties) {
    if (!Object.keys(annotationProperties).length) {
        return {};
    }
    return {
        title: annotationProperties.title,
        file: annotationProperties.file,
        line: annotationProperties.startLine,
        endLine: annotationProperties.endLine,
        col: annotationProperties.startColumn,
        endColumn: annotationProperties.endColumn
    };
}
//# sourceMappingURL=utils.js.map

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
/******/ 		__webpack_modules__[moduleId](module, module.exports, __nccwpck_require__);
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
/******/ /* webpack/runtime/async module */
/******/ (() => {
/******/ 	var webpackQueues = typeof Symbol === "function" ? Symbol("webpack queues") : "__webpack_queues__";
/******/ 	var webpackExports = typeof Symbol === "function" ? Symbol("webpack exports") : "__webpack_exports__";
/******/ 	var webpackError = typeof Symbol === "function" ? Symbol("webpack error") : "__webpack_error__";
/******/ 	var resolveQueue = (queue) => {
/******/ 		if(queue && queue.d < 1) {
/******/ 			queue.d = 1;
/******/ 			queue.forEach((fn) => (fn.r--));
/******/ 			queue.forEach((fn) => (fn.r-- ? fn.r++ : fn()));
/******/ 		}
/******/ 	}
/******/ 	var wrapDeps = (deps) => (deps.map((dep) => {
/******/ 		if(dep !== null && typeof dep === "object") {
/******/ 			if(dep[webpackQueues]) return dep;
/******/ 			if(dep.then) {
/******/ 				var queue = [];
/******/ 				queue.d = 0;
/******/ 				dep.then((r) => {
/******/ 					obj[webpackExports] = r;
/******/ 					resolveQueue(queue);
/******/ 				}, (e) => {
/******/ 					obj[webpackError] = e;
/******/ 					resolveQueue(queue);
/******/ 				});
/******/ 				var obj = {};
/******/ 				obj[webpackQueues] = (fn) => (fn(queue));
/******/ 				return obj;
/******/ 			}
/******/ 		}
/******/ 		var ret = {};
/******/ 		ret[webpackQueues] = x => {};
/******/ 		ret[webpackExports] = dep;
/******/ 		return ret;
/******/ 	}));
/******/ 	__nccwpck_require__.a = (module, body, hasAwait) => {
/******/ 		var queue;
/******/ 		hasAwait && ((queue = []).d = -1);
/******/ 		var depQueues = new Set();
/******/ 		var exports = module.exports;
/******/ 		var currentDeps;
/******/ 		var outerResolve;
/******/ 		var reject;
/******/ 		var promise = new Promise((resolve, rej) => {
/******/ 			reject = rej;
/******/ 			outerResolve = resolve;
/******/ 		});
/******/ 		promise[webpackExports] = exports;
/******/ 		promise[webpackQueues] = (fn) => (queue && fn(queue), depQueues.forEach(fn), promise["catch"](x => {}));
/******/ 		module.exports = promise;
/******/ 		body((deps) => {
/******/ 			currentDeps = wrapDeps(deps);
/******/ 			var fn;
/******/ 			var getResult = () => (currentDeps.map((d) => {
/******/ 				if(d[webpackError]) throw d[webpackError];
/******/ 				return d[webpackExports];
/******/ 			}))
/******/ 			var promise = new Promise((resolve) => {
/******/ 				fn = () => (resolve(getResult));
/******/ 				fn.r = 0;
/******/ 				var fnQueue = (q) => (q !== queue && !depQueues.has(q) && (depQueues.add(q), q && !q.d && (fn.r++, q.push(fn))));
/******/ 				currentDeps.map((dep) => (dep[webpackQueues](fnQueue)));
/******/ 			});
/******/ 			return fn.r ? promise : getResult();
/******/ 		}, (err) => ((err ? reject(promise[webpackError] = err) : outerResolve(exports)), resolveQueue(queue)));
/******/ 		queue && queue.d < 0 && (queue.d = 0);
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/compat get default export */
/******/ (() => {
/******/ 	// getDefaultExport function for compatibility with non-harmony modules
/******/ 	__nccwpck_require__.n = (module) => {
/******/ 		var getter = module && module.__esModule ?
/******/ 			() => (module['default']) :
/******/ 			() => (module);
/******/ 		__nccwpck_require__.d(getter, { a: getter });
/******/ 		return getter;
/******/ 	};
/******/ })();
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
/******/ 
/******/ // startup
/******/ // Load entry module and return exports
/******/ // This entry module used 'module' so it can't be inlined
/******/ var __webpack_exports__ = __nccwpck_require__(9407);
/******/ __webpack_exports__ = await __webpack_exports__;
/******/ 

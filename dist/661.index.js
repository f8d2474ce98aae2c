export const id = 661;
export const ids = [661];
export const modules = {

/***/ 6661:
/***/ ((module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   post: () => (/* binding */ post)
/* harmony export */ });
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(3024);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _actions_core_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(1938);
/* harmony import */ var _remote_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(4769);
/* harmony import */ var _ssh_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(8679);
/* harmony import */ var _state_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(2462);
/* harmony import */ var _untrusted_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(873);
var __webpack_async_dependencies__ = __webpack_handle_async_dependencies__([_actions_core_js__WEBPACK_IMPORTED_MODULE_1__]);
_actions_core_js__WEBPACK_IMPORTED_MODULE_1__ = (__webpack_async_dependencies__.then ? (await __webpack_async_dependencies__)() : __webpack_async_dependencies__)[0];






/**
 * The post step: runs even when the main step failed or was cancelled. Where the main step could
 * not give its lock back (killed), it stops what of that run still runs on the server, says what
 * is served and releases the lock; then it closes the SSH masters and deletes the key. It warns,
 * never fails.
 */
async function post() {
    const dir = _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .getState */ .Gu(_state_js__WEBPACK_IMPORTED_MODULE_4__/* .State */ .U.SshDir);
    if (!dir || !(0,node_fs__WEBPACK_IMPORTED_MODULE_0__.existsSync)(dir))
        return;
    const locks = _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .getState */ .Gu(_state_js__WEBPACK_IMPORTED_MODULE_4__/* .State */ .U.Locks);
    if (locks) {
        try {
            const l = JSON.parse(locks);
            await Promise.all(l.hosts.map((i) => recoverHost(dir, l, i)));
        }
        catch (e) {
            _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .warning */ .$e(`Could not release the deploy lock: ${e}`);
        }
    }
    try {
        await (0,_ssh_js__WEBPACK_IMPORTED_MODULE_3__/* .removeSshDir */ .gB)(dir);
        _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .info */ .pq('Closed the SSH connection and deleted the key.');
    }
    catch (e) {
        _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .warning */ .$e(`Could not delete ${dir}: ${e}`);
    }
}
/** The recover script on host `i`, over a connection of its own (the master may be stuck), bounded. */
async function recoverHost(dir, l, i) {
    const script = (0,_remote_js__WEBPACK_IMPORTED_MODULE_2__/* .renderScript */ .y9)('recover', {
        T: l.target,
        LINK: l.linkName,
        TOKEN: l.token,
        // The post step's own bound (the ssh call below gives up after 10 s).
        LEFT: 10,
        ID: l.releaseId ?? '',
        INCOMING: l.incoming ?? '',
        LOGLINE: '',
        KEEP_LOCK: 0,
    });
    const r = await _ssh_js__WEBPACK_IMPORTED_MODULE_3__/* .Ssh */ .L1.execInDir(dir, i, script, {
        signal: AbortSignal.timeout(10_000),
        command: (0,_remote_js__WEBPACK_IMPORTED_MODULE_2__/* .remoteCommand */ .S2)('recover'),
    });
    const reply = (0,_remote_js__WEBPACK_IMPORTED_MODULE_2__/* .parseReply */ .UV)(r.stdout);
    if (!reply.ok) {
        _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .warning */ .$e(`Could not release the deploy lock on host ${i + 1}: ${r.aborted ? 'no answer within 10 s' : (0,_untrusted_js__WEBPACK_IMPORTED_MODULE_5__/* .untrustedLines */ .mU)(r.stderr, 5).join(' | ')}`);
        return;
    }
    // A plain name from the server, or nothing: never its raw text on our stdout.
    const live = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test((0,_remote_js__WEBPACK_IMPORTED_MODULE_2__/* .first */ .$1)(reply, 'live')) ? (0,_remote_js__WEBPACK_IMPORTED_MODULE_2__/* .first */ .$1)(reply, 'live') : '';
    const lock = (0,_remote_js__WEBPACK_IMPORTED_MODULE_2__/* .first */ .$1)(reply, 'lock').split(' ')[0];
    const serves = `${l.target}/${l.linkName} serves ${live ? `releases/${live}` : 'no release'}`;
    if (lock === 'released') {
        const ours = l.releaseId && live === l.releaseId
            ? ` (release ${l.releaseId} had gone live before the main step was stopped)`
            : '';
        _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .info */ .pq(`Released the deploy lock on host ${i + 1} left by the main step, after stopping its work there; ${serves}${ours}.`);
    }
    else {
        _actions_core_js__WEBPACK_IMPORTED_MODULE_1__/* .info */ .pq(`Host ${i + 1}: the deploy lock is no longer held by the main step; ${serves}.`);
    }
}

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } });

/***/ })

};

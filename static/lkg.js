// Telltale's last-known-good store, for app.wasm (wasm/idb.go): one record
// of bytes (key "lkg") in IndexedDB (database "telltale", object store
// "lkg"). In JavaScript rather than in Go through syscall/js: app.wasm is at
// its size budget, and the same code in Go costs about 4 KB of it (brotli).
"use strict";
var telltaleStore = (function () {
  var open = null; // the database, once open
  var opening = null; // a promise of it, while opening
  function db() {
    if (open) return Promise.resolve(open);
    if (!opening) {
      opening = new Promise(function (resolve, reject) {
        var req = indexedDB.open("telltale", 1);
        req.onupgradeneeded = function () { req.result.createObjectStore("lkg"); };
        req.onsuccess = function () { open = req.result; resolve(open); };
        req.onerror = function () { reject(req.error); };
        req.onblocked = function () { reject(new Error("IndexedDB open blocked")); };
      });
      opening.catch(function () { opening = null; });
    }
    return opening;
  }
  function run(mode, fn, cb) {
    function go(d) {
      var tx = d.transaction("lkg", mode), req = fn(tx.objectStore("lkg"));
      tx.oncomplete = function () {
        cb(req.result instanceof Uint8Array ? req.result : null, null);
      };
      tx.onerror = tx.onabort = function () { cb(null, String(tx.error || "transaction aborted")); };
    }
    try {
      // An open database starts the transaction now: a save from a
      // pagehide handler is committed even as the page goes.
      if (open) return go(open);
    } catch (e) {
      return cb(null, String(e));
    }
    db().then(go).catch(function (e) { cb(null, String(e)); });
  }
  return {
    // load calls cb(bytes or null, error), and asks the browser to keep
    // the record under storage pressure.
    load: function (cb) {
      if (navigator.storage && navigator.storage.persist) navigator.storage.persist();
      run("readonly", function (st) { return st.get("lkg"); }, cb);
    },
    // save replaces the record with bytes (a Uint8Array), then cb(null, error).
    save: function (bytes, cb) {
      run("readwrite", function (st) { return st.put(bytes, "lkg"); }, cb);
    }
  };
})();

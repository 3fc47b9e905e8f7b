/*
 * Deputy secure capture page: runs inside the embedder's iframe, on Deputy's
 * origin. It shows the programme's password policy live, tokenises the
 * password with POST /multi/tokenize and posts only the token to the parent,
 * and only to the embedder origin the server checked when it served the page
 * (never to the wildcard). The password itself never leaves this document except to
 * Deputy's own endpoints.
 */
(function () {
  "use strict";

  var form = document.getElementById("capture");
  var input = document.getElementById("password");
  var status = document.getElementById("status");
  var key = form.dataset.key;
  var origin = form.dataset.origin; // checked against the programme's allowed origins by the server
  var mode = form.dataset.mode;
  var framed = window.parent !== window;

  // Checks for the rules of password/profile.go that are simple enough to
  // run here; any other rule (such as NIST's blocklist) is asked of the
  // server with POST /multi/passwords/validate.
  var local = {
    length: function (pw, li) {
      var n = Array.from(pw).length; // code points, as Go's utf8.RuneCountInString
      return n >= Number(li.dataset.min) && n <= Number(li.dataset.max);
    },
    lower: function (pw) { return /\p{Ll}/u.test(pw); },
    upper: function (pw) { return /\p{Lu}/u.test(pw); },
    digit: function (pw) { return /\p{Nd}/u.test(pw); },
    special: function (pw) { return /[^\p{L}\p{Nd}]/u.test(pw); },
    repeated: function (pw) {
      var cs = Array.from(pw);
      return cs.some(function (c) { return c !== cs[0]; });
    },
  };

  var items = Array.prototype.slice.call(document.querySelectorAll("#rules li[data-rule]"));
  var serverRules = items.filter(function (li) { return !local[li.dataset.rule]; });
  var serverVerdict = null; // true, false or null (unknown) for the current value
  var checkSeq = 0;
  var checkTimer = 0;
  var busy = false;
  var lastState = ""; // the state last posted, as JSON

  function post(message) {
    if (framed) {
      window.parent.postMessage(message, origin);
    }
  }

  function resize() {
    post({ type: "deputy:resize", height: document.documentElement.scrollHeight });
  }

  // rules returns each rule's state for the current value: true, false or
  // null (not known yet).
  function rules() {
    var pw = input.value.normalize("NFKC"); // the form the server judges and hashes (password.Normalise)
    var out = {};
    items.forEach(function (li) {
      var check = local[li.dataset.rule];
      out[li.dataset.rule] = pw === "" ? null : check ? check(pw, li) : serverVerdict;
    });
    return out;
  }

  function acceptable(state) {
    return Object.keys(state).every(function (id) { return state[id] !== false; });
  }

  function update() {
    var state = rules();
    items.forEach(function (li) {
      var v = state[li.dataset.rule];
      li.classList.toggle("met", v === true);
      li.classList.toggle("unmet", v === false);
    });
    var empty = input.value === "";
    var valid = !empty && (mode !== "new" || Object.keys(state).every(function (id) { return state[id] === true; }));
    // Only a change is posted: a message per keystroke would count the
    // password's length (and time its keys) out to any script in the parent.
    var message = { type: "deputy:state", empty: empty, valid: valid, rules: state };
    var json = JSON.stringify(message);
    if (json !== lastState) {
      lastState = json;
      post(message);
    }
    return state;
  }

  // scheduleServerCheck asks the server about the rules that are not checked
  // here, once the local ones pass and typing pauses.
  function scheduleServerCheck(state) {
    clearTimeout(checkTimer);
    var seq = ++checkSeq;
    var localOK = items.every(function (li) { return !local[li.dataset.rule] || state[li.dataset.rule] === true; });
    if (mode !== "new" || serverRules.length === 0 || !localOK) {
      return;
    }
    checkTimer = setTimeout(function () {
      request("/multi/passwords/validate", input.value).then(function (r) {
        if (seq !== checkSeq) {
          return;
        }
        if (r.res.status === 204) {
          serverVerdict = true;
        } else if (r.res.status === 409 && r.body.errorCode === "PASSWORD_TOO_SIMPLE") {
          serverVerdict = false;
        } // anything else leaves it unknown: it is checked again where the token is used
        update();
      }, function () {});
    }, 250);
  }

  function request(path, pw) {
    return fetch(path, {
      method: "POST",
      headers: { "api-key": key, "Content-Type": "application/json" },
      body: JSON.stringify({ password: { value: pw } }),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        return { res: res, body: body || {} };
      });
    });
  }

  function fail(code, httpStatus, text) {
    status.textContent = text;
    post({ type: "deputy:error", code: code, status: httpStatus });
    resize();
  }

  function submit() {
    if (busy) {
      return;
    }
    var pw = input.value;
    if (pw === "") {
      fail("EMPTY", 0, "Enter a password.");
      return;
    }
    if (mode === "new" && !acceptable(rules())) {
      fail("POLICY", 0, "The password does not meet every rule.");
      return;
    }
    busy = true;
    status.textContent = "";
    request("/multi/tokenize", pw).then(function (r) {
      if (r.res.ok && typeof r.body.token === "string") {
        post({ type: "deputy:token", token: r.body.token });
      } else if (r.res.status === 429) {
        fail("RATE_LIMITED", 429, "Too many attempts: try again in a moment.");
      } else {
        fail(String(r.body.errorCode || r.body.code || "TOKENISE_FAILED"), r.res.status, "The password could not be submitted.");
      }
    }, function () {
      fail("NETWORK", 0, "The password could not be submitted: no connection.");
    }).then(function () {
      busy = false;
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });
  input.addEventListener("input", function () {
    serverVerdict = null;
    status.textContent = "";
    scheduleServerCheck(update());
  });
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || event.origin !== origin) {
      return;
    }
    var d = event.data;
    if (!d || typeof d !== "object") {
      return;
    }
    if (d.type === "deputy:submit") {
      submit();
    } else if (d.type === "deputy:clear") {
      input.value = "";
      serverVerdict = null;
      status.textContent = "";
      update();
    }
  });
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(resize).observe(document.body);
  }
  update();
  resize();
})();

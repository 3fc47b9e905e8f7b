/*
 * Deputy secure capture: the script an embedder's page includes to collect a
 * password without ever seeing it.
 *
 *   <script src="https://deputy.example/secure/deputy-secure.js"></script>
 *   <div id="password"></div>
 *   <script>
 *     const field = Deputy.mountPassword(document.getElementById("password"), {
 *       uiKey: "dpk_...",                          // the programme's public ui key
 *       mode: "new",                               // "new" (policy shown) or "current" (sign-in)
 *       onToken: (token) => { ... },               // "dtk_...": send it to your backend
 *       onChange: (state) => { ... },              // {empty, valid, rules: {length: true, ...}}
 *       onError: (error) => { ... },               // {code: "RATE_LIMITED", ...}
 *     });
 *     form.addEventListener("submit", (e) => { e.preventDefault(); field.submit(); });
 *   </script>
 *
 * The field is an iframe served from Deputy's origin (the origin this script
 * was loaded from). The password stays inside it: the iframe tokenises it with
 * POST /multi/tokenize and hands this page only the single-use token and which
 * policy rules are met. Messages are accepted only from that iframe and only
 * from Deputy's origin; messages to it are sent only to Deputy's origin.
 * No framework, no build step.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.src) {
    throw new Error("deputy-secure.js must be included with <script src=...>");
  }
  var deputyOrigin = new URL(script.src).origin;

  function rulesCopy(rules) {
    var out = {};
    if (rules && typeof rules === "object") {
      Object.keys(rules).forEach(function (id) {
        var v = rules[id];
        out[String(id)] = v === true ? true : v === false ? false : null;
      });
    }
    return out;
  }

  function mountPassword(element, options) {
    options = options || {};
    if (!element || typeof element.appendChild !== "function") {
      throw new TypeError("Deputy.mountPassword: an element to mount into is required");
    }
    if (typeof options.uiKey !== "string" || options.uiKey === "") {
      throw new TypeError("Deputy.mountPassword: options.uiKey (the programme's public ui key) is required");
    }
    var src = new URL("/secure/capture", deputyOrigin);
    src.searchParams.set("key", options.uiKey);
    src.searchParams.set("origin", window.location.origin);
    src.searchParams.set("mode", options.mode === "current" ? "current" : "new");

    var frame = document.createElement("iframe");
    frame.src = src.href;
    frame.title = options.title || "Password";
    frame.className = "deputy-secure-frame";
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.style.border = "0";
    frame.style.width = "100%";
    frame.style.height = "4em";
    element.appendChild(frame);

    function call(name, arg) {
      if (typeof options[name] === "function") {
        options[name](arg);
      }
    }

    function onMessage(event) {
      if (event.origin !== deputyOrigin || event.source !== frame.contentWindow) {
        return;
      }
      var d = event.data;
      if (!d || typeof d !== "object") {
        return;
      }
      switch (d.type) {
        case "deputy:token":
          if (typeof d.token === "string") {
            call("onToken", d.token);
          }
          break;
        case "deputy:state":
          call("onChange", { empty: d.empty === true, valid: d.valid === true, rules: rulesCopy(d.rules) });
          break;
        case "deputy:error":
          call("onError", { code: String(d.code), status: typeof d.status === "number" ? d.status : 0 });
          break;
        case "deputy:resize":
          if (typeof d.height === "number" && d.height > 0 && d.height < 4000) {
            frame.style.height = Math.ceil(d.height) + "px";
          }
          break;
      }
    }
    window.addEventListener("message", onMessage);

    function send(type) {
      if (frame.contentWindow) {
        frame.contentWindow.postMessage({ type: type }, deputyOrigin);
      }
    }

    return {
      // frame is the iframe element, for styling.
      frame: frame,
      // submit tokenises the password; onToken (or onError) follows.
      submit: function () { send("deputy:submit"); },
      // clear empties the field.
      clear: function () { send("deputy:clear"); },
      // destroy removes the field and stops listening.
      destroy: function () {
        window.removeEventListener("message", onMessage);
        frame.remove();
      },
    };
  }

  window.Deputy = Object.freeze({ origin: deputyOrigin, mountPassword: mountPassword });
})();

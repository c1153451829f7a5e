/*
 * Switchboard Call Ribbon widget: window.IntalksAICallRibbon.
 *
 *   IntalksAICallRibbon.init({apiKey, apiUrl, position, onCallEvent, onReady})
 *   IntalksAICallRibbon.setCustomer({phoneNumber, name, customerId, context,
 *                                     agentId, agentName, callType, metadata})
 *   IntalksAICallRibbon.makeCall() / hangup() / mute() / unmute() / hold() / unhold()
 *
 * makeCall places a real call through the server's carrier; the ribbon then
 * follows the call's status and reports each change through onCallEvent:
 * 'initiated', 'ringing', 'connected', 'muted', 'unmuted', 'held', 'resumed',
 * 'callEnded' (with duration) and 'error'.
 */
(function () {
  "use strict";

  var REQUIRED = ["phoneNumber", "name", "customerId"];
  var POLL_MS = 400;
  var FINAL = { completed: true, missed: true, failed: true };

  var s = {
    config: null,
    customer: null,
    call: null,
    status: "idle",
    connectedAt: null,
    muted: false,
    held: false,
    poll: null,
    tick: null,
    el: {},
  };

  function emit(event, data) {
    var cb = s.config && s.config.onCallEvent;
    if (typeof cb === "function") {
      try {
        cb(event, data || {});
      } catch (e) {
        console.error("[CallRibbon] onCallEvent failed:", e);
      }
    }
  }

  function fail(code, message, extra) {
    console.error("[CallRibbon] " + message);
    var data = { code: code, message: message };
    for (var k in extra || {}) data[k] = extra[k];
    if (s.customer) data.customerId = s.customer.customerId;
    setState("error", message);
    emit("error", data);
    return data;
  }

  function api(method, path, body) {
    var url = s.config.apiUrl.replace(/\/+$/, "") + path;
    return fetch(url, {
      method: method,
      headers: { "x-api-key": s.config.apiKey, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        if (!r.ok) {
          var err = new Error((json.error && json.error.message) || ("HTTP " + r.status));
          err.status = r.status;
          err.body = json;
          throw err;
        }
        return json;
      });
    });
  }

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text) n.textContent = text;
    return n;
  }

  function button(cls, label, onClick) {
    var b = node("button", cls, label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function build(position) {
    var root = node("div", "sbr-ribbon sbr-" + (position === "top" ? "top" : "bottom"));
    root.setAttribute("role", "region");
    root.setAttribute("aria-label", "Call ribbon");
    var who = node("div", "sbr-customer");
    s.el.name = who.appendChild(node("span", "sbr-name", "No customer selected"));
    s.el.phone = who.appendChild(node("span", "sbr-phone", ""));
    root.appendChild(who);
    s.el.state = root.appendChild(node("span", "sbr-state", "Idle"));
    s.el.timer = root.appendChild(node("span", "sbr-timer", "00:00"));
    s.el.message = root.appendChild(node("span", "sbr-message", ""));
    root.appendChild(node("span", "sbr-spacer"));
    s.el.call = root.appendChild(button("sbr-call", "Call", function () { api_.makeCall(); }));
    s.el.mute = root.appendChild(button("sbr-mute", "Mute", function () { s.muted ? api_.unmute() : api_.mute(); }));
    s.el.hold = root.appendChild(button("sbr-hold", "Hold", function () { s.held ? api_.unhold() : api_.hold(); }));
    s.el.hangup = root.appendChild(button("sbr-hangup", "Hang up", function () { api_.hangup(); }));
    s.el.root = root;
    document.body.appendChild(root);
    render();
  }

  var LABELS = { idle: "Idle", initiated: "Dialling", ringing: "Ringing", connected: "Connected", ended: "Call ended", error: "Error" };

  function setState(state, message) {
    s.status = state;
    if (s.el.message) s.el.message.textContent = message || "";
    render();
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function elapsed() {
    if (!s.connectedAt) return 0;
    return Math.max(0, Math.floor((Date.now() - s.connectedAt) / 1000));
  }

  function render() {
    if (!s.el.root) return;
    var c = s.customer;
    s.el.name.textContent = c ? c.name || c.customerId || "Customer" : "No customer selected";
    s.el.phone.textContent = c ? c.phoneNumber || "" : "";
    s.el.state.textContent = LABELS[s.status] || s.status;
    s.el.root.setAttribute("data-state", s.status);
    var secs = s.status === "ended" && s.call ? s.call.duration || 0 : elapsed();
    s.el.timer.textContent = pad(Math.floor(secs / 60)) + ":" + pad(secs % 60);
    var live = s.status === "initiated" || s.status === "ringing" || s.status === "connected";
    s.el.call.disabled = live || !c;
    s.el.hangup.disabled = !live;
    s.el.mute.disabled = s.status !== "connected";
    s.el.hold.disabled = s.status !== "connected";
    s.el.mute.textContent = s.muted ? "Unmute" : "Mute";
    s.el.mute.setAttribute("aria-pressed", String(s.muted));
    s.el.hold.textContent = s.held ? "Resume" : "Hold";
    s.el.hold.setAttribute("aria-pressed", String(s.held));
  }

  function eventData(extra) {
    var d = {
      sessionId: s.call && s.call.session_id,
      customerId: s.customer && s.customer.customerId,
      phoneNumber: s.customer && s.customer.phoneNumber,
      status: s.call && s.call.call_status,
    };
    for (var k in extra || {}) d[k] = extra[k];
    return d;
  }

  function stopTimers() {
    if (s.poll) clearInterval(s.poll);
    if (s.tick) clearInterval(s.tick);
    s.poll = s.tick = null;
  }

  // Follows the call's status on the server until it ends.
  function follow(call) {
    var seen = call.call_status;
    s.poll = setInterval(function () {
      if (!s.call || s.call.session_id !== call.session_id) return;
      api("GET", "/api/ribbon/calls/" + encodeURIComponent(call.session_id)).then(function (c) {
        s.call = c;
        if (c.call_status === seen) return;
        seen = c.call_status;
        if (c.call_status === "ringing") {
          setState("ringing");
          emit("ringing", eventData());
        } else if (c.call_status === "connected") {
          s.connectedAt = c.connected_at ? Date.parse(c.connected_at) : Date.now();
          if (!(s.connectedAt <= Date.now())) s.connectedAt = Date.now();
          setState("connected");
          s.tick = setInterval(render, 250);
          emit("connected", eventData({ connectedAt: c.connected_at }));
        } else if (FINAL[c.call_status]) {
          stopTimers();
          s.muted = s.held = false;
          setState("ended");
          emit("callEnded", eventData({ duration: c.duration || 0, endedAt: c.ended_at }));
        }
      }).catch(function (e) {
        console.error("[CallRibbon] status check failed:", e.message);
      });
    }, POLL_MS);
  }

  function action(name, event, flag, value) {
    if (!s.call || s.status !== "connected") {
      fail("no_live_call", "There is no connected call to " + name);
      return Promise.resolve(null);
    }
    return api("POST", "/api/ribbon/calls/" + encodeURIComponent(s.call.session_id) + "/actions", { action: name })
      .then(function (c) {
        if (flag) s[flag] = value;
        render();
        emit(event, eventData());
        return c;
      })
      .catch(function (e) { fail("action_failed", "Could not " + name + ": " + e.message); return null; });
  }

  var api_ = {
    init: function (config) {
      config = config || {};
      s.config = config;
      if (!config.apiKey || !config.apiUrl) {
        fail("invalid_config", "init needs apiKey and apiUrl");
        return;
      }
      var start = function () {
        if (!s.el.root) build(config.position);
        if (typeof config.onReady === "function") {
          try { config.onReady(); } catch (e) { console.error("[CallRibbon] onReady failed:", e); }
        }
      };
      if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
    },

    setCustomer: function (customer) {
      s.customer = customer || null;
      if (s.status === "ended" || s.status === "error") setState("idle");
      render();
    },

    makeCall: function () {
      if (!s.config) {
        console.error("[CallRibbon] call init() first");
        return Promise.resolve(null);
      }
      var c = s.customer || {};
      var missing = REQUIRED.filter(function (f) { return c[f] === undefined || c[f] === null || String(c[f]).trim() === ""; });
      if (missing.length) {
        fail("missing_fields", "setCustomer needs " + missing.join(", ") + " before a call", { missing: missing });
        return Promise.resolve(null);
      }
      if (s.status === "initiated" || s.status === "ringing" || s.status === "connected") {
        fail("call_in_progress", "A call is already in progress");
        return Promise.resolve(null);
      }
      stopTimers();
      s.connectedAt = null;
      s.muted = s.held = false;
      setState("initiated");
      return api("POST", "/api/ribbon/calls", {
        phoneNumber: c.phoneNumber,
        name: c.name,
        customerId: c.customerId,
        context: c.context,
        agentId: c.agentId,
        agentName: c.agentName,
        callType: c.callType,
        metadata: c.metadata,
      }).then(function (call) {
        s.call = call;
        emit("initiated", eventData());
        follow(call);
        return call;
      }).catch(function (e) {
        var field = e.body && e.body.error && e.body.error.details && e.body.error.details.field;
        fail("call_refused", "The call was not placed: " + e.message, field ? { field: field } : {});
        return null;
      });
    },

    hangup: function () {
      if (!s.call || !(s.status === "initiated" || s.status === "ringing" || s.status === "connected")) {
        return Promise.resolve(null);
      }
      return api("POST", "/api/ribbon/calls/" + encodeURIComponent(s.call.session_id) + "/actions", { action: "hangup" })
        .catch(function (e) { fail("action_failed", "Could not hang up: " + e.message); return null; });
    },

    mute: function () { return action("mute", "muted", "muted", true); },
    unmute: function () { return action("unmute", "unmuted", "muted", false); },
    hold: function () { return action("hold", "held", "held", true); },
    unhold: function () { return action("unhold", "resumed", "held", false); },

    getState: function () {
      return { status: s.status, call: s.call, customer: s.customer, muted: s.muted, held: s.held, elapsed: elapsed() };
    },
  };

  window.IntalksAICallRibbon = api_;
})();

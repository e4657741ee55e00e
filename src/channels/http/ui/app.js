// switchboard dashboard: one EventSource on v1/events; every card is drawn from the last snapshot
// plus the changes since. No framework, no build step; text goes in with textContent only.
const $ = (id) => document.getElementById(id)
const state = { data: null, csrf: null, source: null, retry: 0 }

const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === "class") el.className = v
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? "" : String(v))
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}
const fill = (el, ...children) => el.replaceChildren(...children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false))

// ---- time: the viewer's zone, and "3 min ago"
const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" })
const ago = (iso) => {
  if (!iso) return "—"
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000)
  const a = Math.abs(s)
  if (a < 45) return s <= 0 ? "just now" : "in a few s"
  if (a < 3600) return rtf.format(Math.round(s / 60), "minute")
  if (a < 86400) return rtf.format(Math.round(s / 3600), "hour")
  return rtf.format(Math.round(s / 86400), "day")
}
const clock = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" })
/** A <time> showing "3 min ago", the local time in its tooltip; refreshed every 15 s. */
const when = (iso, withClock = false) =>
  iso ? h("time", { datetime: iso, title: new Date(iso).toLocaleString(), "data-ago": withClock ? "clock" : "ago" }, withClock ? `${clock(iso)} · ${ago(iso)}` : ago(iso)) : "—"
const refreshTimes = () => {
  for (const t of document.querySelectorAll("time[data-ago]")) {
    const iso = t.getAttribute("datetime")
    t.textContent = t.dataset.ago === "clock" ? `${clock(iso)} · ${ago(iso)}` : ago(iso)
  }
}
const duration = (ms) => ms < 1000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`
const badge = (text, cls = text) => h("span", { class: `badge ${cls}` }, text)
const kv = (pairs) => h("dl", { class: "kv" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))

// ---- Jaeger links (SWITCHBOARD_JAEGER_URL)
const jaegerTrace = (traceId) => state.data?.config?.jaegerUrl && traceId ? `${state.data.config.jaegerUrl}/trace/${encodeURIComponent(traceId)}` : null
const jaegerRequest = (requestId) => {
  const base = state.data?.config?.jaegerUrl
  if (!base || !requestId) return null
  const service = state.data.config.serviceName || "switchboard"
  return `${base}/search?service=${encodeURIComponent(service)}&tags=${encodeURIComponent(JSON.stringify({ "switchboard.request_id": requestId }))}`
}
const traceLink = (href, label) => href ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }, label) : ""

// ---- actions (carry the CSRF token)
const act = async (path, body) => {
  const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": state.csrf ?? "" }, body: JSON.stringify(body), credentials: "same-origin" })
  const json = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(json?.error?.message ?? `HTTP ${res.status}`)
  return json
}

// ---- cards
const renderHealth = (health) => {
  if (!health) return
  fill($("health-badge"), health.status)
  $("health-badge").className = `badge ${health.status}`
  const rows = Object.entries(health.checks ?? {})
  fill($("health"), rows.length === 0 ? h("li", { class: "muted" }, "no checks") : rows.map(([name, c]) =>
    h("li", {}, badge(c.status), h("span", { class: "name" }, name), c.detail ? h("span", { class: "detail" }, c.detail) : "")))
}

const renderActive = (active) => {
  const el = $("active")
  if (!active) return fill(el, h("p", { class: "muted", id: "active-idle" }, "Idle: no turn is running."))
  const stop = h("button", { type: "button", class: "danger", id: "stop", onclick: async () => {
    stop.disabled = true
    try {
      const r = await act("ui/api/stop", { source: active.source })
      stop.textContent = r.stopped ? "Stopping…" : "Already finished"
    } catch (e) {
      stop.disabled = false
      stop.textContent = `Stop failed: ${e.message}`
    }
  } }, "Stop")
  fill(el,
    h("p", { class: "big", id: "active-source" }, active.source),
    kv([
      ["request", h("code", {}, active.id)],
      ["priority", active.priority],
      ["started", when(active.startedAt, true)],
      jaegerRequest(active.id) && ["trace", traceLink(jaegerRequest(active.id), "open in Jaeger")]
    ]),
    h("div", { class: "actions" }, stop))
}

const renderQueue = (queue) => {
  if (!queue) return
  const by = queue.byPriority ?? {}
  fill($("queue"),
    h("p", { class: "big", id: "queue-depth" }, `${queue.depth} waiting`),
    kv([
      ["by priority", Object.entries(by).map(([p, n]) => `${p} ${n}`).join(" · ")],
      ["oldest wait", queue.depth === 0 ? "—" : duration(queue.oldestWaitMs)],
      ["cap", String(queue.cap)],
      ["accepted / refused", `${queue.accepted} / ${queue.refused}`]
    ]))
}

const renderChart = (samples) => {
  const svg = $("chart")
  const ns = "http://www.w3.org/2000/svg"
  const now = Date.now()
  // The samples (every 15 s), then the queue as it is now, so the line reaches the right edge.
  const q = state.data?.queue
  const points = q ? [...samples, { at: new Date(now).toISOString(), depth: q.depth, oldestWaitMs: q.depth === 0 ? 0 : q.oldestWaitMs }] : samples
  const x = (iso) => Math.max(0, 300 - ((now - Date.parse(iso)) / 3_600_000) * 300)
  const maxDepth = Math.max(1, ...points.map((p) => p.depth))
  const maxWait = Math.max(1000, ...points.map((p) => p.oldestWaitMs))
  const line = (cls, y) => {
    const el = document.createElementNS(ns, "polyline")
    el.setAttribute("class", cls)
    el.setAttribute("points", points.map((p) => `${x(p.at).toFixed(1)},${y(p).toFixed(1)}`).join(" "))
    return el
  }
  const label = (text, ty) => {
    const t = document.createElementNS(ns, "text")
    t.setAttribute("x", "4"); t.setAttribute("y", String(ty)); t.setAttribute("font-size", "9"); t.setAttribute("fill", "currentColor")
    t.textContent = text
    return t
  }
  svg.replaceChildren(
    line("depth", (p) => 85 - (p.depth / maxDepth) * 75),
    line("wait", (p) => 85 - (p.oldestWaitMs / maxWait) * 75),
    label(`max ${maxDepth} waiting · ${duration(maxWait)} oldest`, 10))
  const last = points.at(-1)
  $("chart-cap").textContent = `Last hour (${samples.length} samples): waiting (line, now ${last?.depth ?? 0}) and oldest wait (dashed)`
}

const channelDetail = (c) => {
  const d = c.detail ?? {}
  const lastPoll = d.lastPollAt ?? d.lastEventAt ?? d.lastReadAt ?? null
  const failures = d.consecutiveFailures ?? d.failuresInARow ?? null
  return [
    ["since", when(c.since)],
    lastPoll && ["last poll", when(lastPoll)],
    failures !== null && ["failures in a row", String(failures)],
    ["deliveries", `${c.deliveries.delivered} sent · ${c.deliveries.queued} queued · ${c.deliveries.failed} failed`],
    c.restarts > 0 && ["restarts", String(c.restarts)],
    c.lastError && ["last error", c.lastError]
  ]
}

const renderChannels = (channels) => {
  if (!channels) return
  fill($("channels"), channels.map((c) =>
    h("article", { class: `tile${c.state === "failing" ? " is-failing" : ""}`, id: `channel-${c.name}`, "data-state": c.state, "aria-label": `${c.name}: ${c.state}` },
      h("div", { class: "tile-title" }, h("span", {}, c.name), badge(c.state)),
      kv(channelDetail(c)))))
}

const renderSessions = (sessions) => {
  $("card-sessions").hidden = !Array.isArray(sessions) || sessions.length === 0
  if ($("card-sessions").hidden) return
  fill($("sessions"), sessions.map((s) =>
    h("li", { "data-session": s.key },
      badge(s.active ? "busy" : s.open ? "idle" : "closed", s.active ? "running" : s.open ? "ok" : "stopped"),
      h("span", { class: "name" }, s.key),
      h("span", { class: "muted" }, `${plural(s.turns ?? 0, "turn")} · ${s.queued ?? 0} queued`),
      s.active ? h("span", { class: "detail" }, `running for ${s.active.source ?? "?"}`) : "",
      s.lastTurn ? h("span", { class: "detail" }, `last: ${s.lastTurn.source} · ${s.lastTurn.outcome} · `, when(s.lastTurn.finishedAt)) : "")))
}

const renderOutbox = (outbox) => {
  if (!outbox) return
  fill($("outbox"),
    h("p", { class: "big" }, `${outbox.waiting} waiting`),
    kv([
      ["oldest", outbox.oldestSince ? when(outbox.oldestSince, true) : "—"],
      ["deferred (ever)", String(outbox.deferred ?? 0)],
      ["given up", String(outbox.gaveUp ?? 0)]
    ]))
}

const renderChecks = (checks, digest) => {
  fill($("checks"), !checks || checks.length === 0 ? h("li", { class: "muted" }, "No background checks (SWITCHBOARD_CHECKS_FILE).") : checks.map((c) =>
    h("li", { id: `check-${c.name}`, "data-state": c.state }, badge(c.state), h("span", { class: "name" }, c.name),
      h("span", { class: "muted" }, `${c.kind} · since `, when(c.since), c.nextRunAt ? [" · next ", when(c.nextRunAt)] : ""),
      c.lastDetail ? h("span", { class: "detail" }, c.lastDetail) : "")))
  fill($("digest"), digest ? [`Digest: ${digest.waiting} waiting; next `, digest.nextFlushAt ? when(digest.nextFlushAt, true) : "—", ` (every ${digest.every})`] : "")
}

const renderJobs = (jobs, approvals) => {
  const approvalOn = state.data?.config?.approval
  fill($("approvals"), (approvals ?? []).map((a) => {
    const answer = (choice) => async (ev) => {
      ev.target.disabled = true
      try { await act("ui/api/answer", { questionId: a.id, answer: choice }) } catch (e) { ev.target.textContent = e.message }
    }
    return h("div", { class: "approval" },
      h("p", {}, badge("approval", "warn"), " ", h("span", { class: "name" }, a.source), " asks ", when(a.askedAt)),
      h("pre", { class: "tail" }, a.question),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: answer("Approve") }, "Approve"),
        h("button", { type: "button", class: "quiet", onclick: answer("Deny") }, "Deny")))
  }))
  if (!jobs || jobs.length === 0) {
    return fill($("jobs"), h("p", { class: "muted" }, approvalOn ? "No jobs yet. Jobs that need approval show here with Approve / Deny." : "No jobs (SWITCHBOARD_EXEC_ALLOW)."))
  }
  fill($("jobs"), [...jobs].reverse().map((j) => {
    const cls = j.state === "exited" ? (j.exitCode === 0 ? "exited0" : "exitedN") : j.state
    return h("div", { class: "job" },
      h("p", {}, badge(j.state === "exited" ? `exit ${j.exitCode}` : j.state, cls), " ", h("code", {}, j.argv.join(" "))),
      kv([["chat", j.sessionKey], ["started", when(j.startedAt, true)], j.durationMs !== null && ["took", duration(j.durationMs)]]),
      j.tail ? h("pre", { class: "tail" }, j.tail) : "")
  }))
}

const renderDeliveries = (deliveries) => {
  fill($("deliveries"), deliveries.length === 0 ? h("tr", {}, h("td", { colspan: 6, class: "muted" }, "Nothing delivered yet.")) : [...deliveries].reverse().map((d) =>
    h("tr", { "data-target": d.target },
      h("td", {}, when(d.at, true)),
      h("td", { class: "target" }, d.target),
      h("td", {}, d.kind),
      h("td", {}, badge(d.outcome), d.error ? h("span", { class: "detail" }, d.error) : ""),
      h("td", { class: "num" }, duration(d.latencyMs)),
      h("td", {}, traceLink(jaegerTrace(d.traceId) ?? jaegerRequest(d.requestId), "trace")))))
}

const renderAll = () => {
  const d = state.data
  renderHealth(d.health); renderActive(d.active); renderQueue(d.queue); renderChart(d.history)
  renderChannels(d.channels); renderSessions(d.sessions); renderOutbox(d.outbox); renderChecks(d.checks, d.digest)
  renderJobs(d.jobs, d.approvals); renderDeliveries(d.deliveries)
  $("version").textContent = d.session ? `model: ${d.session.provider}${d.session.model && d.session.model !== d.session.provider ? ` · ${d.session.model}` : ""}` : ""
}

// ---- the stream
const RENDER = {
  health: () => renderHealth(state.data.health),
  active: () => renderActive(state.data.active),
  queue: () => {
    renderQueue(state.data.queue)
    renderChart(state.data.history)
  },
  channels: () => renderChannels(state.data.channels),
  outbox: () => renderOutbox(state.data.outbox),
  sessions: () => renderSessions(state.data.sessions),
  checks: () => renderChecks(state.data.checks, state.data.digest),
  digest: () => renderChecks(state.data.checks, state.data.digest),
  jobs: () => renderJobs(state.data.jobs, state.data.approvals),
  approvals: () => renderJobs(state.data.jobs, state.data.approvals)
}

const setConn = (text, cls) => {
  $("conn").textContent = text
  $("conn").className = `conn ${cls}`
}

const listen = () => {
  state.source?.close()
  const es = new EventSource("v1/events")
  state.source = es
  es.addEventListener("snapshot", (ev) => {
    state.data = JSON.parse(ev.data)
    state.retry = 0
    renderAll()
    setConn("live", "live")
  })
  for (const name of Object.keys(RENDER)) {
    es.addEventListener(name, (ev) => {
      if (!state.data) return
      state.data[name] = JSON.parse(ev.data)
      RENDER[name]()
    })
  }
  es.addEventListener("heartbeat", (ev) => state.data && (state.data.heartbeat = JSON.parse(ev.data)))
  es.addEventListener("session", (ev) => state.data && (state.data.session = JSON.parse(ev.data)))
  es.addEventListener("delivery", (ev) => {
    if (!state.data) return
    state.data.deliveries = [...state.data.deliveries, JSON.parse(ev.data)].slice(-50)
    renderDeliveries(state.data.deliveries)
  })
  es.addEventListener("queue.sample", (ev) => {
    if (!state.data) return
    state.data.history = [...state.data.history, JSON.parse(ev.data)].slice(-240)
    renderChart(state.data.history)
  })
  es.addEventListener("dropped", () => {
    // Too far behind (a sleeping tab): start again from a fresh snapshot.
    es.close()
    setConn("catching up…", "down")
    setTimeout(listen, 500)
  })
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      // Refused (session ended, daemon restarted): check the session again.
      setConn("disconnected; retrying…", "down")
      setTimeout(start, Math.min(10_000, 1000 * 2 ** state.retry++))
    } else {
      setConn("reconnecting…", "down")
    }
  }
}

const showLogin = (message = "") => {
  state.source?.close()
  $("main").hidden = true
  $("logout").hidden = true
  $("login").hidden = false
  $("login-error").textContent = message
  setConn("not logged in", "down")
  $("token").focus()
}

const start = async () => {
  let res
  try {
    res = await fetch("ui/api/session", { credentials: "same-origin" })
  } catch {
    setConn("cannot reach switchboard; retrying…", "down")
    return setTimeout(start, Math.min(10_000, 1000 * 2 ** state.retry++))
  }
  if (res.status === 401) return showLogin()
  if (!res.ok) {
    setConn(`switchboard answered ${res.status}; retrying…`, "down")
    return setTimeout(start, Math.min(10_000, 1000 * 2 ** state.retry++))
  }
  state.csrf = (await res.json()).csrf
  $("login").hidden = true
  $("main").hidden = false
  $("logout").hidden = false
  listen()
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault()
  const token = $("token").value.trim()
  const res = await fetch("ui/login", { method: "POST", headers: { authorization: `Bearer ${token}` }, credentials: "same-origin" }).catch(() => null)
  $("token").value = ""
  if (res === null) return showLogin("Cannot reach switchboard.")
  if (!res.ok) return showLogin("That token was not accepted.")
  await start()
  $("main").focus()
})

$("logout").addEventListener("click", async () => {
  await fetch("ui/logout", { method: "POST", credentials: "same-origin" }).catch(() => null)
  showLogin()
})

setInterval(refreshTimes, 15_000)
start()

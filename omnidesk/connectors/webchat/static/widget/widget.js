/* omnidesk chat widget: a dependency-free ES module with its own CSS inside a shadow root.
 *
 * Embed:  <script type="module" src="https://desk.example.com/widget/widget.js"
 *                 data-omnidesk-inbox="INBOX-UUID" async></script>
 * Optional, before the tag:  window.omnideskSettings = {locale, user_id, email, name, user_hash}
 * Protocol, identity verification and the event shapes: docs/widget.md.
 *
 * Every visitor- and agent-written string is put into the page with textContent, never as HTML. A message's
 * formatted version (`html`, sanitised by the server) is parsed into an inert document and rebuilt from an
 * allowlist of tags, with links checked like every other URL (richBubble).
 */

const MODULE_URL = new URL(import.meta.url);
const BASE = MODULE_URL.href.replace(/\/widget\/widget\.js(?:[?#].*)?$/, "");
const WS_BASE = BASE.replace(/^http/, "ws");
const PING_MS = 25000;
const PONG_TIMEOUT_MS = 10000;
const MAX_BACKOFF_MS = 15000;

function randomId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/* localStorage when the host page allows it, memory otherwise (private mode, blocked storage). */
function makeStore(prefix) {
  const memory = new Map();
  const backend = (() => {
    try {
      const probe = `${prefix}probe`;
      window.localStorage.setItem(probe, "1");
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch (_err) {
      return null;
    }
  })();
  return {
    get(key, fallback) {
      const raw = backend ? backend.getItem(prefix + key) : memory.get(key);
      if (raw == null) return fallback;
      try { return JSON.parse(raw); } catch (_err) { return fallback; }
    },
    set(key, value) {
      const raw = JSON.stringify(value);
      if (backend) {
        try { backend.setItem(prefix + key, raw); return; } catch (_err) { /* full: keep in memory */ }
      }
      memory.set(key, raw);
    },
  };
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    node.setAttribute(key, value === true ? "" : String(value));
  }
  if (text) node.textContent = text;
  return node;
}

function safeUrl(url) {
  return typeof url === "string" && /^https?:\/\//i.test(url) ? url : "";
}

/* Tags kept from a message's HTML; anything else keeps its words only, and these are dropped whole. */
const RICH_TAGS = new Set(["P", "BR", "STRONG", "B", "EM", "I", "U", "S", "DEL", "CODE", "PRE", "KBD", "BLOCKQUOTE",
  "UL", "OL", "LI", "H1", "H2", "H3", "H4", "H5", "H6", "HR", "A", "SUB", "SUP",
  "TABLE", "THEAD", "TBODY", "TR", "TH", "TD"]);
const DROPPED_TAGS = new Set(["SCRIPT", "STYLE", "TEMPLATE", "NOSCRIPT", "IFRAME", "OBJECT", "EMBED", "SVG", "MATH"]);

function copyAllowed(from, to) {
  for (const node of from.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) { to.appendChild(document.createTextNode(node.data)); continue; }
    if (node.nodeType !== Node.ELEMENT_NODE || DROPPED_TAGS.has(node.tagName)) continue;
    if (!RICH_TAGS.has(node.tagName)) { copyAllowed(node, to); continue; }
    const copy = document.createElement(node.tagName.toLowerCase());
    if (node.tagName === "A") {
      const href = safeUrl(node.getAttribute("href"));
      if (href) { copy.href = href; copy.target = "_blank"; copy.rel = "noopener noreferrer"; }
    }
    copyAllowed(node, copy);
    to.appendChild(copy);
  }
}

/* A bubble for a formatted message: DOMParser's document runs no script and loads nothing. */
function richBubble(html) {
  const bubble = el("div", { class: "od-bubble od-rich" });
  copyAllowed(new DOMParser().parseFromString(html, "text/html").body, bubble);
  return bubble;
}

function format(template, values) {
  return String(template).replace(/%\((\w+)\)s/g, (_m, key) => (key in values ? String(values[key]) : ""));
}

function localTime() {
  const now = new Date();
  const offset = -now.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}T${pad(now.getHours())}:` +
    `${pad(now.getMinutes())}:${pad(now.getSeconds())}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

function visitorContext() {
  let timezone = "";
  try { timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (_err) { /* old browser */ }
  return {
    page: location.href.slice(0, 2000),
    title: document.title.slice(0, 300),
    referrer: document.referrer.slice(0, 2000),
    language: navigator.language || "",
    timezone,
    local_time: localTime(),
    screen: `${window.innerWidth}x${window.innerHeight}`,
  };
}

const ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
const ICON_CLOSE = "M6 6l12 12M18 6L6 18";
const ICON_CLIP = "M16.5 6.5l-7.8 7.8a2 2 0 0 0 2.8 2.8l7.8-7.8a4 4 0 0 0-5.7-5.7L5.8 11.4a6 6 0 0 0 8.5 8.5L20 14.2";

function svgIcon(path) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const p = document.createElementNS(ns, "path");
  p.setAttribute("d", path);
  svg.appendChild(p);
  return svg;
}

class Widget {
  constructor(options) {
    this.inbox = options.inbox;
    this.identity = options.identity;
    this.locale = options.locale;
    const who = this.identity ? `:${this.identity.user_id || this.identity.email}` : "";
    this.store = makeStore(`omnidesk:${this.inbox}${who}:`);
    this.token = this.store.get("token", null);
    this.outbox = this.store.get("outbox", []);
    this.prechat = this.store.get("prechat", null);
    this.cursor = null; // in memory only: a fresh page load asks for the whole history
    this.byId = new Map();
    this.byClientId = new Map();
    this.reported = new Set();
    this.conversation = null;
    this.verified = false;
    this.ready = false;
    this.attempt = 0;
    this.unread = 0;
    this.everOpened = false;
    this.lastTypingSent = 0;
  }

  async start() {
    const lang = this.locale || (navigator.languages || [navigator.language]).join(",");
    const response = await fetch(`${BASE}/widget/${this.inbox}/config.json?lang=${encodeURIComponent(lang)}`);
    if (!response.ok) throw new Error(`omnidesk widget: config answered ${response.status}`);
    this.cfg = await response.json();
    this.s = this.cfg.strings;
    this.build();
    for (const item of this.outbox) this.render({ client_id: item.client_id, direction: "in", text: item.text }, "sending");
    this.connect();
    this.scheduleProactive();
    window.addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => this.reportRead());
  }

  /* ---- the DOM ------------------------------------------------------------------------------ */

  build() {
    const host = el("div", { id: "omnidesk-widget" });
    const shadow = host.attachShadow({ mode: "open" });
    const link = el("link", { rel: "stylesheet", href: `${BASE}/widget/widget.css` });
    const root = el("div", { class: `od-root od-${this.cfg.position}`, lang: this.cfg.language });
    root.style.setProperty("--od-color", this.cfg.color);
    root.style.visibility = "hidden";
    link.addEventListener("load", () => { root.style.visibility = ""; });
    link.addEventListener("error", () => { root.style.visibility = ""; });

    this.launcher = el("button", { class: "od-launcher", type: "button", "aria-label": this.s.open });
    this.launcher.appendChild(svgIcon(ICON_CHAT));
    this.badge = el("span", { class: "od-badge", hidden: true });
    this.launcher.appendChild(this.badge);
    this.launcher.addEventListener("click", () => this.open());

    this.panel = el("section", { class: "od-panel", role: "dialog", "aria-label": this.cfg.title, hidden: true });
    const header = el("header", { class: "od-header" });
    const avatar = safeUrl(this.cfg.avatar_url);
    if (avatar) header.appendChild(el("img", { class: "od-avatar", src: avatar, alt: "" }));
    const titles = el("div", { class: "od-titles" });
    titles.appendChild(el("h2", { class: "od-title" }, this.cfg.title));
    this.statusLine = el("p", { class: "od-status" }, this.cfg.online ? this.s.online : this.s.offline_title);
    titles.appendChild(this.statusLine);
    header.appendChild(titles);
    const close = el("button", { class: "od-close", type: "button", "aria-label": this.s.close });
    close.appendChild(svgIcon(ICON_CLOSE));
    close.addEventListener("click", () => this.close());
    header.appendChild(close);

    this.banner = el("div", { class: "od-banner", role: "status", hidden: true });
    this.list = el("ol", { class: "od-messages", "aria-live": "polite" });
    this.intro = el("li", { class: "od-intro" });
    if (this.cfg.greeting) this.intro.appendChild(el("p", { class: "od-greeting" }, this.cfg.greeting));
    if (!this.cfg.online) this.intro.appendChild(el("p", { class: "od-offline" }, this.s.offline_body));
    // When to expect an answer, from business hours and the queue; the inbox's static wording if unknown.
    const expected = this.cfg.expected_reply ||
      (this.cfg.online && this.cfg.reply_time ? format(this.s.reply_time, { time: this.cfg.reply_time }) : "");
    if (expected) this.intro.appendChild(el("p", { class: "od-reply-time" }, expected));
    this.list.appendChild(this.intro);
    this.typingLine = el("div", { class: "od-typing", hidden: true });

    this.prechatForm = this.buildPrechat();
    this.composer = el("form", { class: "od-composer" });
    const attach = el("label", { class: "od-attach", title: this.s.attach });
    attach.appendChild(svgIcon(ICON_CLIP));
    this.fileInput = el("input", { type: "file", accept: this.cfg.attachment_types.join(","), "aria-label": this.s.attach });
    attach.appendChild(this.fileInput);
    this.input = el("textarea", { rows: "1", placeholder: this.s.placeholder, "aria-label": this.s.placeholder, maxlength: "10000" });
    this.sendButton = el("button", { type: "submit", class: "od-send" }, this.s.send);
    this.composer.append(attach, this.input, this.sendButton);
    this.composer.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); this.submit(); }
    });
    this.input.addEventListener("input", () => this.typing(true));
    this.input.addEventListener("blur", () => this.typing(false));
    this.fileInput.addEventListener("change", () => this.upload());

    this.panel.append(header, this.banner, this.list, this.typingLine, this.prechatForm, this.composer);
    root.append(this.launcher, this.panel);
    shadow.append(link, root);
    document.body.appendChild(host);
    this.host = host;
  }

  prechatFields() {
    if (this.verified) return [];
    const fields = this.cfg.prechat_fields.slice();
    if (!this.cfg.online && !fields.some((f) => f.name === "email")) {
      // Offline: an e-mail address to answer to (kept on the contact, unverified).
      fields.push({ name: "email", kind: "email", required: true, label: this.s.email });
    } else if (!this.cfg.online) {
      for (const f of fields) if (f.name === "email") f.required = true;
    }
    return fields;
  }

  buildPrechat() {
    const form = el("form", { class: "od-prechat", hidden: true, novalidate: true });
    form.addEventListener("submit", (event) => { event.preventDefault(); this.submitPrechat(); });
    return form;
  }

  showPrechatIfNeeded() {
    const fields = this.prechatFields();
    const needed = fields.length > 0 && !this.prechat && this.byId.size === 0 && this.outbox.length === 0;
    this.prechatForm.hidden = !needed;
    this.composer.hidden = needed;
    if (!needed || this.prechatForm.childElementCount) return;
    this.prechatForm.appendChild(el("p", {}, this.cfg.online ? this.s.prechat_intro : this.s.offline_title));
    for (const field of fields) {
      const label = el("label", {}, field.label);
      const input = el("input", {
        name: field.name, type: field.kind === "tel" ? "tel" : field.kind === "email" ? "email" : "text",
        required: field.required, maxlength: "200",
      });
      label.appendChild(input);
      label.appendChild(el("span", { class: "od-field-error", hidden: true }));
      this.prechatForm.appendChild(label);
    }
    this.prechatForm.appendChild(el("button", { type: "submit", class: "od-send" }, this.s.start));
  }

  submitPrechat() {
    const values = {};
    let ok = true;
    for (const field of this.prechatFields()) {
      const input = this.prechatForm.querySelector(`input[name="${field.name}"]`);
      const error = input.parentElement.querySelector(".od-field-error");
      const value = input.value.trim();
      let problem = "";
      if (field.required && !value) problem = this.s.required;
      else if (value && field.kind === "email" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) problem = this.s.bad_email;
      error.textContent = problem;
      error.hidden = !problem;
      if (problem) ok = false;
      if (value) values[field.name] = value;
    }
    if (!ok) return;
    this.prechat = values;
    this.store.set("prechat", values);
    this.showPrechatIfNeeded();
    this.input.focus();
  }

  open(message) {
    this.panel.hidden = false;
    this.launcher.hidden = window.matchMedia("(max-width: 480px)").matches;
    this.everOpened = true;
    this.unread = 0;
    this.badge.hidden = true;
    if (message) this.list.appendChild(el("li", { class: "od-msg od-agent od-proactive" })).appendChild(el("div", { class: "od-bubble" }, message));
    this.showPrechatIfNeeded();
    this.scrollDown();
    this.reportRead();
    if (!this.composer.hidden) this.input.focus();
  }

  close() {
    this.panel.hidden = true;
    this.launcher.hidden = false;
    this.typing(false);
  }

  setBanner(text, kind = "info") {
    this.banner.textContent = text || "";
    this.banner.hidden = !text;
    this.banner.dataset.kind = kind;
  }

  scrollDown() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  /* ---- messages ----------------------------------------------------------------------------- */

  render(message, state) {
    let item = (message.id && this.byId.get(message.id)) || (message.client_id && this.byClientId.get(message.client_id));
    if (item) {
      if (message.id && !item.dataset.id) {
        item.dataset.id = message.id;
        item.dataset.created = message.created_at;
        this.byId.set(message.id, item);
        this.place(item);
      }
      if (state) this.setState(item, state);
      return item;
    }
    const mine = message.direction === "in";
    item = el("li", { class: `od-msg ${mine ? "od-visitor" : "od-agent"}` });
    if (!mine) {
      const who = el("div", { class: "od-who" });
      const avatar = safeUrl(message.avatar_url);
      if (avatar) who.appendChild(el("img", { class: "od-avatar-small", src: avatar, alt: "" }));
      who.appendChild(el("span", { class: "od-name" }, message.sender_name || this.s.agent));
      item.appendChild(who);
    }
    if (!mine && message.html) item.appendChild(richBubble(message.html));
    else if (message.text) item.appendChild(el("div", { class: "od-bubble" }, message.text));
    for (const file of message.attachments || []) {
      const url = safeUrl(file.url);
      if (!url) continue;
      const link = el("a", { class: "od-file", href: url, target: "_blank", rel: "noopener noreferrer" });
      if (file.image) link.appendChild(el("img", { class: "od-preview", src: url, alt: file.name }));
      else link.textContent = file.name || this.s.attachment;
      item.appendChild(link);
    }
    if (mine) item.appendChild(el("div", { class: "od-state" }));
    if (!mine && (message.quick_replies || []).length) item.appendChild(this.quickButtons(message.quick_replies));
    if (message.id) {
      item.dataset.id = message.id;
      item.dataset.created = message.created_at;
      this.byId.set(message.id, item);
    }
    if (message.conversation_id) item.dataset.conversation = message.conversation_id;
    if (message.client_id) this.byClientId.set(message.client_id, item);
    this.place(item);
    if (mine) this.setState(item, state || "sent");
    this.pruneQuickReplies();
    return item;
  }

  /* A bot's buttons ("Yes, thanks" / "No, talk to a person"); labels are text, never HTML. */
  quickButtons(replies) {
    const box = el("div", { class: "od-quick", role: "group" });
    for (const reply of replies) {
      const button = el("button", { type: "button", class: "od-quick-reply" }, reply.label);
      button.addEventListener("click", () => { box.remove(); this.submit(reply.label, reply.payload); });
      box.appendChild(button);
    }
    return box;
  }

  /* Buttons answer the latest message only: once anything follows it (a click, a typed answer), they go. */
  pruneQuickReplies() {
    const last = this.list.lastElementChild;
    for (const box of this.list.querySelectorAll(".od-quick")) {
      if (box.parentElement !== last) box.remove();
    }
  }

  /* Keep the list in server order; messages still on their way stay at the end. */
  place(item) {
    const created = item.dataset.created;
    if (created) {
      for (const other of this.list.children) {
        if (other === item || other === this.intro) continue;
        const when = other.dataset.created;
        if (!when || when > created) { this.list.insertBefore(item, other); return; }
      }
    }
    this.list.appendChild(item);
  }

  setState(item, state) {
    const line = item.querySelector(".od-state");
    if (!line) return;
    if (state === "sent" && item.dataset.state === "seen") return; // never back
    item.dataset.state = state;
    line.textContent = { sending: this.s.sending, sent: this.s.sent, seen: this.s.seen, failed: this.s.failed }[state] || "";
  }

  incoming(message) {
    const isNew = !this.byId.has(message.id);
    this.render(message, message.direction === "in" ? "sent" : null);
    if (message.conversation_id) this.conversation = message.conversation_id;
    if (isNew && message.direction === "out") {
      this.typingLine.hidden = true;
      if (this.panel.hidden) {
        this.unread += 1;
        this.badge.textContent = String(this.unread);
        this.badge.hidden = false;
      }
    }
    this.scrollDown();
    this.reportRead();
  }

  reportRead() {
    if (!this.ready || this.panel.hidden || document.visibilityState !== "visible") return;
    const ids = [];
    for (const [id, item] of this.byId) {
      if (item.classList.contains("od-agent") && !this.reported.has(id)) { ids.push(id); this.reported.add(id); }
    }
    if (ids.length) this.sendFrame({ type: "read", ids: ids.slice(-100) });
  }

  /* ---- sending ------------------------------------------------------------------------------ */

  submit(quickText, quickReply) {
    const text = quickReply ? quickText : this.input.value.trim();
    if (!text) return;
    if (!quickReply) this.input.value = "";
    this.typing(false);
    const item = { client_id: randomId(), text };
    if (quickReply) item.quick_reply = quickReply;
    this.outbox.push(item);
    this.store.set("outbox", this.outbox);
    this.render({ client_id: item.client_id, direction: "in", text }, "sending");
    this.scrollDown();
    this.flush();
  }

  flush() {
    if (!this.ready) return;
    const now = Date.now();
    for (const item of this.outbox) {
      if (item.retryAt && item.retryAt > now) continue;
      this.sendFrame({
        type: "send", client_id: item.client_id, text: item.text, prechat: this.prechat || undefined,
        context: visitorContext(), quick_reply: item.quick_reply || undefined,
      });
    }
  }

  acked(frame) {
    this.outbox = this.outbox.filter((item) => item.client_id !== frame.client_id);
    this.store.set("outbox", this.outbox);
    this.render(frame.message, "sent");
    this.conversation = frame.message.conversation_id;
    this.setBanner("");
  }

  failed(frame) {
    const item = this.outbox.find((entry) => entry.client_id === frame.client_id);
    if (frame.code === "rate_limited" || frame.code === "unavailable") {
      // Kept in the outbox and tried again: nothing the visitor wrote is dropped.
      this.setBanner(frame.detail, "warning");
      const wait = Math.max(1, Number(frame.retry_after) || 2) * 1000;
      if (item) item.retryAt = Date.now() + wait;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => { this.setBanner(""); this.flush(); }, wait);
      return;
    }
    if (item) {
      this.outbox = this.outbox.filter((entry) => entry !== item);
      this.store.set("outbox", this.outbox);
    }
    const bubble = this.byClientId.get(frame.client_id);
    if (bubble) {
      this.setState(bubble, "failed");
      bubble.title = frame.detail || "";
    }
  }

  typing(on) {
    if (!this.ready || !this.conversation) return;
    const now = Date.now();
    clearTimeout(this.typingTimer);
    if (on) {
      this.typingTimer = setTimeout(() => this.typing(false), 4000);
      if (now - this.lastTypingSent < 2000) return;
      this.lastTypingSent = now;
    } else {
      if (!this.lastTypingSent) return;
      this.lastTypingSent = 0;
    }
    this.sendFrame({ type: "typing", conversation_id: this.conversation, typing: on });
  }

  async upload() {
    const file = this.fileInput.files && this.fileInput.files[0];
    this.fileInput.value = "";
    if (!file) return;
    if (file.size > this.cfg.max_attachment_bytes) {
      this.setBanner(format(this.s.too_big, { size: Math.round(this.cfg.max_attachment_bytes / 1048576) }), "error");
      return;
    }
    if (!this.cfg.attachment_types.includes(file.type)) {
      this.setBanner(this.s.bad_type, "error");
      return;
    }
    if (!this.token) return;
    const clientId = randomId();
    const body = new FormData();
    body.append("token", this.token);
    body.append("client_id", clientId);
    body.append("text", "");
    body.append("file", file, file.name);
    body.append("context", JSON.stringify(visitorContext()));
    if (this.identity) body.append("identity", JSON.stringify(this.identity));
    const pending = this.render({ client_id: clientId, direction: "in", text: file.name }, "sending");
    try {
      const response = await fetch(`${BASE}/widget/${this.inbox}/messages`, { method: "POST", body });
      const data = await response.json();
      if (!response.ok) throw new Error(data.detail || String(response.status));
      pending.remove();
      this.byClientId.delete(clientId);
      this.render(data.message, "sent");
      this.conversation = data.message.conversation_id;
    } catch (err) {
      this.setState(pending, "failed");
      this.setBanner(err.message, "error");
    }
  }

  /* ---- the connection ----------------------------------------------------------------------- */

  sendFrame(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    const ws = new WebSocket(`${WS_BASE}/ws/widget/${this.inbox}/`);
    this.ws = ws;
    if (this.attempt > 0) this.setBanner(this.s.reconnecting, "warning");
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({
        type: "hello", token: this.token, identity: this.identity, cursor: this.cursor,
        context: visitorContext(), locale: this.cfg.language,
      }));
      this.heartbeat();
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (_err) { return; }
      this.handle(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.ready = false;
      clearTimeout(this.pingTimer);
      clearTimeout(this.pongTimer);
      if (this.refused || event.code === 4404) return; // will not get better by retrying
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.setBanner(this.s.reconnecting, "warning");
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return;
    this.attempt = 0;
    this.connect();
  }

  heartbeat() {
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => {
      this.sendFrame({ type: "ping" });
      // No answer: the connection is dead without having said so; close it to reconnect.
      this.pongTimer = setTimeout(() => { if (this.ws) this.ws.close(); }, PONG_TIMEOUT_MS);
    }, PING_MS);
  }

  handle(frame) {
    switch (frame.type) {
      case "welcome":
        this.token = frame.token;
        this.store.set("token", frame.token);
        this.cursor = frame.cursor;
        this.verified = frame.verified;
        this.attempt = 0;
        this.ready = true;
        this.setBanner("");
        for (const message of frame.messages) this.incoming(message);
        if (!this.panel.hidden) this.showPrechatIfNeeded();
        this.flush();
        break;
      case "ack":
        this.acked(frame);
        break;
      case "error":
        if (frame.code === "identity_refused") {
          this.refused = true;
          this.setBanner(frame.detail, "error");
        } else if (frame.client_id) {
          this.failed(frame);
        }
        break;
      case "pong":
        clearTimeout(this.pongTimer);
        this.heartbeat();
        break;
      case "widget.message":
        this.incoming(frame.message);
        break;
      case "widget.agent_typing":
        this.typingLine.textContent = format(this.s.typing, { name: frame.agent_name });
        this.typingLine.hidden = !frame.typing;
        clearTimeout(this.agentTypingTimer);
        if (frame.typing) this.agentTypingTimer = setTimeout(() => { this.typingLine.hidden = true; }, 8000);
        break;
      case "widget.agent_read": {
        const read = this.byId.get(frame.message_id);
        const until = read ? read.dataset.created : null;
        for (const item of this.list.querySelectorAll(".od-visitor[data-id]")) {
          if (until && item.dataset.created <= until) this.setState(item, "seen");
        }
        break;
      }
      default:
        break;
    }
  }

  /* ---- proactive prompts -------------------------------------------------------------------- */

  scheduleProactive() {
    const rule = (this.cfg.proactive || []).find((r) => location.pathname.startsWith(r.path));
    if (!rule) return;
    const key = `omnidesk:${this.inbox}:proactive:${rule.path}`;
    try { if (sessionStorage.getItem(key)) return; } catch (_err) { /* storage blocked: show it */ }
    setTimeout(() => {
      if (this.everOpened) return;
      try { sessionStorage.setItem(key, "1"); } catch (_err) { /* ignore */ }
      this.open(rule.message);
    }, rule.after_seconds * 1000);
  }
}

function options() {
  const tag = document.querySelector("script[data-omnidesk-inbox]");
  const settings = window.omnideskSettings || {};
  const data = tag ? tag.dataset : {};
  const identity = settings.user_hash
    ? { user_id: String(settings.user_id || ""), email: String(settings.email || ""), name: String(settings.name || ""), user_hash: String(settings.user_hash) }
    : null;
  return { inbox: settings.inbox || data.omnideskInbox, locale: settings.locale || data.locale || "", identity };
}

async function boot() {
  const opts = options();
  if (!opts.inbox || window.OmnideskWidget) return;
  const widget = new Widget(opts);
  window.OmnideskWidget = { open: () => widget.panel && widget.open(), close: () => widget.panel && widget.close() };
  await widget.start();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();

// Live updates for the agent workspace (docs/workspace.md).
//
// The server renders every piece of HTML. This module only listens on /ws/agent/ and, when an event
// names something on screen, asks the server for that fragment again through htmx: a list row, the
// timeline items after the last one shown, one message (its delivery status), the conversation header.
// It also tells a web-chat customer that the agent is typing and has read their messages (small frames
// on the same socket; the server checks access and throttles again).

const body = document.body;
const conversationId = body.dataset.conversation || "";
const liveBadge = document.getElementById("live");

// --- fragment refreshes, one in flight per key (a burst of events costs at most two requests) -------

const running = new Map();

function coalesce(key, job) {
  const state = running.get(key);
  if (state) {
    state.again = true;
    return state.promise;
  }
  const entry = { again: false, promise: null };
  entry.promise = (async () => {
    try {
      do {
        entry.again = false;
        await job();
      } while (entry.again);
    } catch (err) {
      console.warn("omnidesk: refresh failed", key, err);
    } finally {
      running.delete(key);
    }
  })();
  running.set(key, entry);
  return entry.promise;
}

function listElement() {
  return document.getElementById("conversation-list");
}

function placeRow(row, activity) {
  // Keep the list sorted by last activity, newest first.
  const list = listElement();
  const when = Date.parse(activity) || Date.now();
  for (const other of list.querySelectorAll(":scope > li.row")) {
    if (other === row) continue;
    if ((Date.parse(other.dataset.activity) || 0) <= when) {
      list.insertBefore(row, other);
      return;
    }
  }
  list.insertBefore(row, list.querySelector(":scope > li.list-empty"));
}

const rowActivity = new Map();

function refreshRow(id, activity) {
  if (!listElement() || !id) return;
  if (activity) rowActivity.set(id, activity);
  return coalesce(`row:${id}`, async () => {
    const list = listElement(); // the filter form may have swapped the whole pane meanwhile
    if (!list) return;
    let row = document.getElementById(`row-${id}`);
    if (!row) {
      if (list.dataset.page !== "1") return; // new conversations only ever go on top of page one
      row = document.createElement("li");
      row.id = `row-${id}`;
      row.className = "row row-loading";
      row.dataset.id = id;
    }
    row.dataset.activity = rowActivity.get(id) || row.dataset.activity || new Date().toISOString();
    placeRow(row, row.dataset.activity);
    // The total under the filters was counted when the page was rendered; once rows come and go
    // live it would be wrong, so it steps aside until the next full render.
    const count = document.getElementById("list-count");
    if (count) count.hidden = true;
    const query = list.dataset.query || "";
    await window.htmx.ajax("GET", `/rows/${id}/${query ? `?${query}` : ""}`, {
      target: `#row-${id}`,
      swap: "outerHTML",
    });
    const fresh = document.getElementById(`row-${id}`);
    if (fresh && id === conversationId) fresh.classList.add("active");
  });
}

function nearBottom(el) {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 120;
}

function scrollToEnd() {
  const timeline = document.getElementById("timeline");
  if (timeline) timeline.scrollTop = timeline.scrollHeight;
}

function refreshTimeline() {
  const timeline = document.getElementById("timeline");
  if (!timeline || !conversationId) return;
  return coalesce("timeline", async () => {
    const items = timeline.querySelectorAll(":scope > [data-id]");
    const last = items[items.length - 1];
    const after = last ? `?after=${encodeURIComponent(last.dataset.id)}` : "";
    const stick = nearBottom(timeline);
    const before = new Set(Array.from(timeline.querySelectorAll(":scope > [data-id]"), (el) => el.id));
    await window.htmx.ajax("GET", `/c/${conversationId}/timeline/${after}`, {
      target: "#timeline",
      swap: "beforeend",
    });
    // Two overlapping fetches may both bring an item; keep the first copy.
    const seen = new Set();
    let inbound = false;
    for (const item of timeline.querySelectorAll(":scope > [data-id]")) {
      if (seen.has(item.id)) item.remove();
      else seen.add(item.id);
      if (!before.has(item.id) && item.classList.contains("msg-in")) inbound = true;
    }
    if (inbound) {
      showVisitorTyping(false); // their message is here; they are not typing it any more
      unread = true;
      markRead();
    }
    if (stick) scrollToEnd();
  });
}

// --- the customer's side of a web chat: their typing, our typing and read receipts -----------------

let unread = false; // a customer message arrived while this tab was hidden
let visitorTypingTimer = 0;

function send(frame) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
}

function markRead() {
  // Only what the agent can actually see counts as read.
  if (!conversationId || !unread || document.visibilityState !== "visible") return;
  unread = false;
  send({ action: "read", conversation: conversationId });
}

function showVisitorTyping(typing) {
  const line = document.getElementById("visitor-typing");
  if (!line) return;
  line.hidden = !typing;
  clearTimeout(visitorTypingTimer);
  // A lost "stopped" frame must not leave the line up for ever.
  if (typing) visitorTypingTimer = setTimeout(() => { line.hidden = true; }, 8000);
}

const TYPING_EVERY = 3000; // while typing, say so at most this often (the widget forgets after 8 s)
const TYPING_IDLE = 5000; // this long without a key press is "stopped"
let typingSent = false;
let typingAt = 0;
let typingIdle = 0;

function agentTyping(typing) {
  clearTimeout(typingIdle);
  if (typing) {
    if (!typingSent || Date.now() - typingAt >= TYPING_EVERY) {
      send({ action: "typing", conversation: conversationId, typing: true });
      typingSent = true;
      typingAt = Date.now();
    }
    typingIdle = setTimeout(() => agentTyping(false), TYPING_IDLE);
  } else if (typingSent) {
    send({ action: "typing", conversation: conversationId, typing: false });
    typingSent = false;
  }
}

function refreshMessage(messageId) {
  if (!document.getElementById(`m-${messageId}`)) {
    // Not in the timeline yet: a fetch already under way may bring it with its previous status, and the
    // timeline only ever asks for newer items, so look at this one again once the timeline is current.
    return Promise.resolve(refreshTimeline()).then(() => {
      if (document.getElementById(`m-${messageId}`)) return refreshMessage(messageId);
    });
  }
  return coalesce(`m:${messageId}`, () =>
    window.htmx.ajax("GET", `/c/${conversationId}/m/${messageId}/`, {
      target: `#m-${messageId}`,
      swap: "outerHTML",
    }),
  );
}

function refreshHead() {
  const head = document.getElementById("conv-head");
  // Never yank a form out from under an agent who is typing in it.
  if (!head || head.contains(document.activeElement) || head.querySelector("details[open]")) return;
  return coalesce("head", () =>
    window.htmx.ajax("GET", `/c/${conversationId}/head/`, { target: "#conv-head", swap: "outerHTML" }),
  );
}

// --- events ----------------------------------------------------------------------------------------

function handle(event) {
  switch (event.type) {
    case "message.created":
      if (event.conversation_id === conversationId) refreshTimeline();
      break;
    case "message.status":
      if (event.conversation_id === conversationId) refreshMessage(event.message_id);
      break;
    case "conversation.updated":
      refreshRow(event.conversation_id, event.last_message_at);
      if (event.conversation_id === conversationId) {
        refreshHead();
        refreshTimeline(); // assignment, status and channel-switch events live in the timeline
      }
      break;
    case "agent.assigned":
      refreshRow(event.conversation_id);
      break;
    case "sla.warning":
    case "sla.breached":
      // The badge changes colour; the server renders it again.
      refreshRow(event.conversation_id);
      if (event.conversation_id === conversationId) refreshHead();
      break;
    case "visitor.typing":
      if (event.conversation_id === conversationId) showVisitorTyping(event.typing === true);
      break;
    default:
      break;
  }
}

// --- the socket, reconnecting with exponential backoff and jitter -----------------------------------

let attempts = 0;
let socket = null;

function setLive(state) {
  if (!liveBadge) return;
  liveBadge.dataset.state = state;
  const label = liveBadge.dataset[`label${state[0].toUpperCase()}${state.slice(1)}`];
  if (label) liveBadge.querySelector("span").textContent = label;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}${body.dataset.wsPath || "/ws/agent/"}`);
  socket.addEventListener("open", () => {
    const reconnected = attempts > 0;
    attempts = 0;
    setLive("live");
    if (conversationId) socket.send(JSON.stringify({ action: "subscribe", conversation: conversationId }));
    if (reconnected) {
      // Whatever happened while we were away: catch up from the server.
      refreshTimeline();
      if (conversationId) refreshHead();
    }
  });
  socket.addEventListener("message", (msg) => {
    let event;
    try {
      event = JSON.parse(msg.data);
    } catch {
      return;
    }
    if (event && typeof event.type === "string") handle(event);
  });
  socket.addEventListener("close", (ev) => {
    socket = null;
    if (ev.code === 4401) {
      location.reload(); // signed out elsewhere: the page sends us to the login form
      return;
    }
    setLive("offline");
    const delay = Math.min(30000, 500 * 2 ** attempts) * (0.8 + Math.random() * 0.4);
    attempts += 1;
    setTimeout(connect, delay);
  });
}

// --- small page behaviours ---------------------------------------------------------------------------

function composer() {
  const form = document.getElementById("composer");
  if (!form) return;
  const text = form.querySelector("textarea");
  const replyPlaceholder = text.placeholder;
  form.addEventListener("change", (ev) => {
    if (ev.target.name === "composer-mode") {
      text.placeholder = ev.target.value === "note" ? text.dataset.notePlaceholder : replyPlaceholder;
      text.focus();
    }
  });
  form.addEventListener("reset", () => {
    text.placeholder = replyPlaceholder; // a reset puts the tabs back on "Reply"
  });
  text.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      const note = form.querySelector("#mode-note").checked;
      form.querySelector(note ? "#note-button" : "#reply-button").click();
    }
  });
  // What the chosen channel allows now (its reply window and length limit, conversations/outbound.py):
  // a closed window says why and keeps the reply button from sending what the server would refuse.
  const via = form.querySelector("#reply-inbox");
  const rule = form.querySelector("#reply-rule");
  const replyButton = form.querySelector("#reply-button");
  const applyRules = () => {
    const option = via && via.selectedOptions[0];
    if (!option) return;
    const free = option.dataset.free !== "0";
    if (rule) {
      rule.textContent = option.dataset.reason || "";
      rule.hidden = free;
    }
    replyButton.disabled = !free && form.querySelector("#mode-reply").checked;
    if (option.dataset.max) text.maxLength = Number(option.dataset.max);
    else text.removeAttribute("maxlength");
  };
  if (via) via.addEventListener("change", applyRules);
  form.addEventListener("change", (ev) => { if (ev.target.name === "composer-mode") applyRules(); });
  applyRules();
  // The customer sees "typing…" only on a channel that shows it (its capabilities), never for a note.
  const toChat = () =>
    form.querySelector("#mode-reply").checked &&
    via && via.selectedOptions[0] && via.selectedOptions[0].dataset.typing === "1";
  text.addEventListener("input", () => agentTyping(toChat() && text.value.trim() !== ""));
  form.addEventListener("change", () => { if (!toChat()) agentTyping(false); });
  form.addEventListener("htmx:beforeRequest", () => agentTyping(false)); // sending (htmx)
  form.addEventListener("submit", () => agentTyping(false)); // sending (no htmx)
  form.addEventListener("reset", () => agentTyping(false));
  text.addEventListener("blur", () => agentTyping(false));
}

body.addEventListener("omnidesk:timeline", () => refreshTimeline());
body.addEventListener("htmx:afterSwap", (ev) => {
  // Whatever brought items into the timeline (and whenever htmx finished the swap), keep one copy of each.
  const timeline = ev.detail.target;
  if (!timeline || timeline.id !== "timeline") return;
  const seen = new Set();
  for (const item of timeline.querySelectorAll(":scope > [data-id]")) {
    if (seen.has(item.id)) item.remove();
    else seen.add(item.id);
  }
});
body.addEventListener("htmx:beforeSwap", (ev) => {
  // A fresh fragment replaces any earlier notice.
  if (ev.detail.target && ev.detail.target.id === "flash") return;
  const flash = document.getElementById("flash");
  if (flash && ev.detail.requestConfig && ev.detail.requestConfig.verb === "post") flash.innerHTML = "";
});

document.addEventListener("visibilitychange", markRead);

composer();
scrollToEnd();
if ("WebSocket" in window) connect();

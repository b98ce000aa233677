// The ops channel page: polls the stand-in's state, draws the channel and the open thread,
// and sends what the chosen person types or clicks. No framework, no build step, no network
// beyond this origin. Every string from the workspace ends up in text nodes, never markup.
import { el } from "./dom.js";
import { asItem, byTs, MessageNodes, repliesLabel } from "./messages.js";
import { textObject, useDirectory } from "./mrkdwn.js";

const LONG_POLL_SECONDS = 20;
const RETRY_MS = 1000;
const TOAST_MS = 6000;
const USER_KEY = "slack-page-user";

const view = {
  user: null,
  channel: "C0OPS",
  revision: null,
  data: null,
  openThread: null,
  dismissed: new Set(),
  poll: null,
};

const $ = (id) => document.getElementById(id);

const messageNodes = new MessageNodes({
  onPress: pressButton,
  onDismiss: (ts) => {
    view.dismissed.add(ts);
    render();
  },
  onOpenThread: (ts) => {
    view.openThread = ts;
    render();
    $("thread-close").focus();
  },
});

useDirectory(
  (id) => view.data?.users.find((u) => u.id === id)?.name ?? id,
  (id) => view.data?.channels.find((c) => c.id === id)?.name ?? id,
);

// --- buttons ---------------------------------------------------------------------------

async function pressButton(element, target, button) {
  if (element.confirm && !(await confirmWith(element.confirm))) return;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const reply = await post("/_page/click", {
      user: view.user,
      channel: view.channel,
      message_ts: target.ts,
      action_id: element.action_id,
      value: element.value,
    });
    if (!reply.ok) toast(reply.message || reply.error);
    else if (reply.status !== 200) toast(`The app answered the click with HTTP ${reply.status}.`);
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

function confirmWith(confirm) {
  const dialog = $("confirm-dialog");
  const ok = $("confirm-confirm");
  $("confirm-title").replaceChildren(textObject(confirm.title));
  $("confirm-text").replaceChildren(textObject(confirm.text));
  ok.replaceChildren(textObject(confirm.confirm));
  $("confirm-deny").replaceChildren(textObject(confirm.deny));
  ok.className = "btn " + (confirm.style === "danger" ? "btn-danger" : "btn-primary");
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), {
      once: true,
    });
    dialog.showModal();
  });
}

// The state already says where each ephemeral goes: the channel root or its thread's parent.
function visibleEphemerals(rows) {
  return (rows || [])
    .filter((e) => !view.dismissed.has(e.ts))
    .map((e) => asItem(e, "ephemeral", view.data.bot_user_id));
}

function parentItem(message) {
  const item = asItem(message, "message");
  item.privateReplies = visibleEphemerals(message.ephemerals).length;
  return item;
}

function channelName(channel) {
  return (channel.is_private ? "\u{1F512}" : "#") + channel.name;
}

// --- rendering the page ----------------------------------------------------------------

function render() {
  const data = view.data;
  if (!data) return;
  // Names shown in mentions are part of every message's look.
  messageNodes.begin(JSON.stringify([data.users, data.channels]));
  renderChrome(data);
  const items = data.messages.map(parentItem);
  items.push(...visibleEphemerals(data.ephemerals));
  items.sort(byTs);
  const channel = items.map((item) => messageNodes.node(item, "channel"));
  replaceKeepingScroll($("messages"), channel, empty());
  renderThread(data);
  messageNodes.end();
}

function renderChrome(data) {
  $("team-name").textContent = data.team.name;
  const name = channelName(data.channel);
  $("channel-title").textContent = name;
  document.title = `${name} · ${data.team.name} Slack`;
  const archived = data.channel.is_archived;
  $("composer-label").textContent = `Message ${name}`;
  $("composer-input").placeholder = archived
    ? `${name} is archived`
    : `Message ${name} \u2014 try /migrate help`;
  $("composer-input").disabled = archived;
  $("composer-send").disabled = archived;
  $("thread-channel").textContent = name;
  const list = $("channel-list");
  list.replaceChildren(
    ...data.channels.map((channel) => {
      const item = el("li");
      const link = el("button", "channel-link", "channel-link");
      link.type = "button";
      link.textContent = (channel.is_private ? "\u{1F512} " : "# ") + channel.name;
      if (channel.is_archived) {
        link.classList.add("archived");
        link.title = "Archived";
      }
      if (channel.id === view.channel) {
        link.classList.add("active");
        link.setAttribute("aria-current", "page");
      }
      link.addEventListener("click", () => switchTo(view.user, channel.id));
      item.append(link);
      return item;
    }),
  );
  const switcher = $("user-switcher");
  const people = data.users.filter((u) => !u.is_bot && !u.deleted);
  const wanted = people.map((u) => `${u.id}:${u.name}`).join(",");
  if (switcher.dataset.people !== wanted) {
    switcher.replaceChildren(
      ...people.map((u) => {
        const option = el("option");
        option.value = u.id;
        option.textContent = `${u.name} (${u.real_name})`;
        return option;
      }),
    );
    switcher.dataset.people = wanted;
  }
  switcher.value = view.user || "";
}

function empty() {
  const node = el("p", "empty", "empty-channel");
  node.textContent = "No messages yet. Type /migrate help below to start.";
  return node;
}

function renderThread(data) {
  const pane = $("thread-pane");
  const parent = data.messages.find((m) => m.ts === view.openThread);
  if (!parent) {
    view.openThread = null;
    pane.hidden = true;
    document.body.classList.remove("thread-open");
    return;
  }
  pane.hidden = false;
  document.body.classList.add("thread-open");
  const replies = parent.replies.map((m) => asItem(m, "message"));
  replies.push(...visibleEphemerals(parent.ephemerals));
  replies.sort(byTs);
  const divider = el("div", "thread-divider");
  const count = parent.replies.length;
  divider.textContent = repliesLabel(count);
  // A thread holding only this viewer's ephemerals has no replies to count.
  const shown = [messageNodes.node(asItem(parent, "message"), "thread")];
  if (count > 0) shown.push(divider);
  shown.push(...replies.map((item) => messageNodes.node(item, "thread")));
  replaceKeepingScroll($("thread-messages"), shown, null);
}

// Stay pinned to the newest message unless the reader has scrolled up.
function replaceKeepingScroll(container, nodes, placeholder) {
  const pinned = container.scrollHeight - container.scrollTop - container.clientHeight < 48;
  const wanted = nodes.length ? nodes : placeholder ? [placeholder] : [];
  const same =
    wanted.length === container.children.length &&
    wanted.every((node, i) => container.children[i] === node);
  if (!same) container.replaceChildren(...wanted);
  if (pinned) container.scrollTop = container.scrollHeight;
}

// --- talking to the stand-in ----------------------------------------------------------

async function post(path, body) {
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    return await response.json();
  } catch (error) {
    return { ok: false, error: "network", message: "The Slack stand-in is not answering." };
  }
}

async function pollForever() {
  for (;;) {
    const controller = new AbortController();
    view.poll = controller;
    const params = new URLSearchParams({ channel: view.channel });
    if (view.user) params.set("user", view.user);
    if (view.revision !== null) {
      params.set("since", String(view.revision));
      params.set("wait", String(LONG_POLL_SECONDS));
    }
    try {
      const response = await fetch("/_page/state?" + params, {
        signal: controller.signal,
        cache: "no-store",
      });
      const data = await response.json();
      if (data.error === "user_not_found" && view.user) {
        // A stale or mistyped ?user=: fall back to the first person in the workspace.
        switchTo(null, view.channel);
        continue;
      }
      if (!response.ok) throw new Error(data.message || data.error);
      if (controller.signal.aborted) continue;
      $("connection").hidden = true;
      view.data = data;
      view.revision = data.revision;
      if (!view.user) {
        const first = data.users.find((u) => !u.is_bot && !u.deleted);
        if (first) {
          switchTo(first.id, view.channel);
          continue;
        }
      }
      render();
    } catch (error) {
      if (controller.signal.aborted) continue;
      $("connection").hidden = false;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

function switchTo(user, channel) {
  if (user !== view.user) view.dismissed.clear();
  if (channel !== view.channel) view.openThread = null;
  view.user = user;
  view.channel = channel;
  view.revision = null;
  sessionStorage.setItem(USER_KEY, user || "");
  const url = new URL(window.location.href);
  url.searchParams.set("user", user || "");
  url.searchParams.set("channel", channel);
  history.replaceState(null, "", url);
  if (view.poll) view.poll.abort();
}

function toast(message) {
  let node = $("toast");
  if (!node) {
    node = el("div", "toast", "toast");
    node.id = "toast";
    node.setAttribute("role", "alert");
    document.body.append(node);
  }
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    node.hidden = true;
  }, TOAST_MS);
}

function showComposerError(message) {
  const node = $("composer-error");
  node.textContent = message || "";
  node.hidden = !message;
}

async function sendCommand(event) {
  event.preventDefault();
  const input = $("composer-input");
  const line = input.value.trim();
  if (!line) return;
  const send = $("composer-send");
  send.disabled = true;
  try {
    const reply = await post("/_page/slash", {
      user: view.user,
      channel: view.channel,
      text: line,
    });
    if (!reply.ok) {
      showComposerError(reply.message || reply.error);
      return;
    }
    showComposerError("");
    if (input.value.trim() === line) input.value = "";
  } finally {
    send.disabled = false;
    input.focus();
  }
}

function start() {
  const params = new URLSearchParams(window.location.search);
  view.user = params.get("user") || sessionStorage.getItem(USER_KEY) || null;
  view.channel = params.get("channel") || view.channel;
  $("composer").addEventListener("submit", sendCommand);
  $("composer-input").addEventListener("input", () => showComposerError(""));
  $("user-switcher").addEventListener("change", (event) => {
    switchTo(event.target.value, view.channel);
  });
  $("thread-close").addEventListener("click", () => {
    view.openThread = null;
    render();
  });
  pollForever();
}

// A module runs once the document is parsed.
start();

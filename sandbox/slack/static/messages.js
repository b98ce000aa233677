// One message as Slack draws it: avatar, author, APP badge, time, blocks, "(edited)", the
// "Only visible to you" note of an ephemeral and the replies link of a thread parent.
import { renderBlocks } from "./blocks.js";
import { el, holding, text } from "./dom.js";
import { mrkdwn, userLabel } from "./mrkdwn.js";

const CLOCK = { hour: "numeric", minute: "2-digit" };

// An ephemeral's `user` is who sees it; it comes from the app, or from Slack itself.
export function asItem(row, kind, botUser) {
  const fromSlack = kind === "ephemeral" && row.source === "slack";
  const isBot = kind === "ephemeral" ? !fromSlack : row.is_bot;
  const author = kind === "ephemeral" ? botUser : row.user;
  return {
    kind,
    ts: row.ts,
    user: author,
    author: fromSlack ? "Slackbot" : isBot ? userLabel(author) : row.user_name,
    isBot,
    text: row.text || "",
    blocks: row.blocks || [],
    edited: Boolean(row.edited),
    replies: row.replies ? row.replies.length : 0,
    // Set by the page from the thread's ephemerals it still shows this viewer.
    privateReplies: 0,
    lastReply: row.latest_reply || null,
    threadTs: row.thread_ts || null,
  };
}

export function byTs(a, b) {
  return Number(a.ts) - Number(b.ts);
}

// Keeps each message's node while it is unchanged, so a poll does not redraw (or detach a
// button someone is about to click in) every message.
export class MessageNodes {
  constructor({ onPress, onDismiss, onOpenThread }) {
    this.handlers = { onPress, onDismiss, onOpenThread };
    this.cache = new Map();
    this.used = new Set();
    this.context = "";
  }

  begin(context) {
    this.used = new Set();
    this.context = context;
  }

  node(item, where) {
    const key = `${where}:${item.kind}:${item.ts}`;
    const signature = JSON.stringify(item) + this.context;
    this.used.add(key);
    const cached = this.cache.get(key);
    if (cached && cached.signature === signature) return cached.node;
    const node = this.build(item, where);
    this.cache.set(key, { signature, node });
    return node;
  }

  end() {
    for (const key of this.cache.keys()) if (!this.used.has(key)) this.cache.delete(key);
  }

  build(item, where) {
    const node = el("article", "message", "message");
    node.dataset.ts = item.ts;
    node.dataset.kind = item.kind;
    if (item.kind === "ephemeral") node.classList.add("ephemeral");
    const body = el("div", "message-body");
    if (item.kind === "ephemeral") body.append(this.ephemeralNote(item));
    body.append(meta(item), this.content(item));
    const threaded = item.replies > 0 || item.privateReplies > 0;
    if (where === "channel" && threaded) body.append(this.threadLink(item));
    node.append(avatar(item), body);
    return node;
  }

  ephemeralNote(item) {
    const dismiss = el("button", "link-button", "dismiss");
    dismiss.type = "button";
    dismiss.textContent = "Dismiss message";
    dismiss.addEventListener("click", () => this.handlers.onDismiss(item.ts));
    const note = el("div", "ephemeral-note", "ephemeral-note");
    return holding(note, text("Only visible to you"), dismiss);
  }

  content(item) {
    const content = el("div", "message-content");
    content.append(
      item.blocks.length
        ? renderBlocks(item.blocks, item, this.handlers.onPress)
        : mrkdwn(item.text),
    );
    if (item.edited) {
      const edited = el("span", "edited", "edited");
      edited.textContent = "(edited)";
      const prose = content.querySelectorAll(".section-text, .block-context, .block-header");
      (prose.length ? prose[prose.length - 1] : content).append(edited);
    }
    return content;
  }

  threadLink(item) {
    const link = el("button", "thread-link", "open-thread");
    link.type = "button";
    const counts = [];
    if (item.replies > 0) counts.push(repliesLabel(item.replies));
    // Slack counts only real replies; this note is how the page leads to an ephemeral one.
    if (item.privateReplies > 0) counts.push(`${item.privateReplies} only visible to you`);
    const count = counts.join(", ");
    link.append(holding(el("span", "reply-count"), text(count)));
    if (item.replies > 0 && item.lastReply) {
      const last = timeOf(item.lastReply).toLocaleTimeString([], CLOCK);
      link.append(holding(el("span", "last-reply"), text(`Last reply ${last}`)));
    }
    link.setAttribute("aria-label", `${count}, open thread`);
    link.addEventListener("click", () => this.handlers.onOpenThread(item.ts));
    return link;
  }
}

export function repliesLabel(count) {
  return `${count} ${count === 1 ? "reply" : "replies"}`;
}

function avatar(item) {
  const node = el("div", "avatar" + (item.isBot ? " avatar-bot" : ""));
  node.setAttribute("aria-hidden", "true");
  node.textContent = (item.author || "?").charAt(0).toUpperCase();
  node.style.setProperty("--hue", String(hue(item.author)));
  return node;
}

function meta(item) {
  const row = el("div", "message-meta");
  const author = el("span", "author", "message-author");
  author.textContent = item.author;
  row.append(author);
  if (item.isBot) {
    const badge = el("span", "app-badge", "app-badge");
    badge.textContent = "APP";
    row.append(badge);
  }
  const when = timeOf(item.ts);
  const time = el("time", "message-time", "message-time");
  time.dateTime = when.toISOString();
  time.title = when.toLocaleString();
  time.textContent = when.toLocaleTimeString([], CLOCK);
  row.append(time);
  return row;
}

function timeOf(ts) {
  return new Date(Number(ts) * 1000);
}

function hue(name) {
  let sum = 0;
  for (const ch of name || "") sum = (sum * 31 + ch.charCodeAt(0)) % 360;
  return sum;
}

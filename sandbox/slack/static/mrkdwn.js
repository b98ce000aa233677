// Slack mrkdwn and text objects to DOM nodes: *bold*, _italic_, ~strike~, `code`, ```pre```,
// > quotes, <@user>, <#channel>, <!here>, <url|label> and the bot's :emoji: shortcodes.
import { el, text } from "./dom.js";

export const EMOJI = {
  white_check_mark: "\u2705",
  x: "\u274C",
  warning: "\u26A0\uFE0F",
  raised_hand: "\u270B",
  hourglass: "\u231B",
  hourglass_flowing_sand: "\u23F3",
  tada: "\uD83C\uDF89",
  no_entry: "\u26D4",
  no_entry_sign: "\uD83D\uDEAB",
  large_green_circle: "\uD83D\uDFE2",
  red_circle: "\uD83D\uDD34",
  white_small_square: "\u25AB\uFE0F",
  arrows_counterclockwise: "\uD83D\uDD04",
  leftwards_arrow_with_hook: "\u21A9\uFE0F",
};
const SAFE_URL = /^(https?:|mailto:)/i;
const WORD = /[\p{L}\p{N}]/u;

// Names for <@U…> and <#C…>; the page points these at the workspace it last loaded.
const directory = { user: (id) => id, channel: (id) => id };

export function useDirectory(user, channel) {
  directory.user = user;
  directory.channel = channel;
}

export function userLabel(id) {
  return directory.user(id);
}

export function channelLabel(id) {
  return directory.channel(id);
}

function decodeEntities(value) {
  return value.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}


export function emoji(name) {
  const span = el("span", "emoji", "emoji");
  span.textContent = EMOJI[name];
  span.title = `:${name}:`;
  span.setAttribute("role", "img");
  span.setAttribute("aria-label", name.replace(/_/g, " "));
  return span;
}

export function mrkdwn(source) {
  const fragment = document.createDocumentFragment();
  const parts = source.split("```");
  parts.forEach((part, index) => {
    const fenced = index % 2 === 1 && index < parts.length - 1;
    if (fenced) {
      const pre = el("pre", "md-pre");
      pre.textContent = decodeEntities(part.replace(/^\n/, "").replace(/\n$/, ""));
      fragment.append(pre);
      return;
    }
    let body = index % 2 === 1 ? "```" + part : part;
    if (index > 0) body = body.replace(/^\n/, "");
    if (index < parts.length - 1) body = body.replace(/\n$/, "");
    if (body) appendLines(fragment, body);
  });
  return fragment;
}

function appendLines(parent, source) {
  let previous = null;
  let quote = null;
  for (const line of source.split("\n")) {
    const quoted = /^(?:&gt;|>) ?(.*)$/.exec(line);
    if (quoted) {
      if (previous !== "quote") {
        quote = el("blockquote", "md-quote");
        parent.append(quote);
      } else {
        quote.append(el("br"));
      }
      quote.append(inline(quoted[1]));
      previous = "quote";
      continue;
    }
    if (previous === "text") parent.append(el("br"));
    parent.append(inline(line));
    previous = "text";
  }
}

const STYLE_TAGS = { "*": "strong", _: "em", "~": "s" };

function inline(source) {
  const fragment = document.createDocumentFragment();
  const token = /`([^`\n]+)`|<([^<>\n]+)>|:([a-z0-9_+'-]+):|[*_~]/g;
  let plainFrom = 0;
  const flush = (upTo) => {
    if (upTo > plainFrom) fragment.append(text(decodeEntities(source.slice(plainFrom, upTo))));
  };
  let match;
  while ((match = token.exec(source)) !== null) {
    const at = match.index;
    let node = null;
    let end = token.lastIndex;
    if (match[1] !== undefined) {
      node = el("code", "md-code");
      node.textContent = decodeEntities(match[1]);
    } else if (match[2] !== undefined) {
      node = controlSequence(match[2]);
    } else if (match[3] !== undefined) {
      if (Object.hasOwn(EMOJI, match[3])) node = emoji(match[3]);
      else token.lastIndex = at + 1;
    } else {
      const close = closingMarker(source, at);
      if (close > 0) {
        node = el(STYLE_TAGS[match[0]], "md-" + STYLE_TAGS[match[0]]);
        node.append(inline(source.slice(at + 1, close)));
        end = close + 1;
      }
    }
    if (node === null) continue;
    flush(at);
    fragment.append(node);
    plainFrom = end;
    token.lastIndex = end;
  }
  flush(source.length);
  return fragment;
}

// Slack formats *x* only at word edges: "a*b*c" and "approve_step_x" stay as typed.
function closingMarker(source, at) {
  const marker = source[at];
  const before = at > 0 ? source[at - 1] : "";
  if (WORD.test(before) || before === marker) return -1;
  if (!source[at + 1] || /\s/.test(source[at + 1]) || source[at + 1] === marker) return -1;
  for (let i = at + 2; i < source.length; i += 1) {
    if (source[i] !== marker || /\s/.test(source[i - 1])) continue;
    const after = source[i + 1] || "";
    if (!WORD.test(after) && after !== marker) return i;
  }
  return -1;
}

function controlSequence(inner) {
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@")) {
    return mention("@" + (label || userLabel(target.slice(1))), target.slice(1));
  }
  if (target.startsWith("#")) {
    return mention("#" + (label || channelLabel(target.slice(1))), target.slice(1));
  }
  if (target.startsWith("!")) {
    const [kind, id] = splitOnce(target.slice(1), "^");
    const shown = kind === "subteam" && id ? id : kind;
    return mention(label ? decodeEntities(label) : "@" + shown, id || kind);
  }
  const url = decodeEntities(target);
  if (SAFE_URL.test(url)) {
    const link = el("a", "md-link", "link");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = label ? decodeEntities(label) : url;
    return link;
  }
  return text("<" + decodeEntities(inner) + ">");
}

function splitOnce(value, separator) {
  const at = value.indexOf(separator);
  return at < 0 ? [value, ""] : [value.slice(0, at), value.slice(at + 1)];
}

function mention(label, id) {
  const span = el("span", "mention", "mention");
  span.textContent = label;
  span.dataset.id = id;
  return span;
}

export function plainText(source, withEmoji) {
  const fragment = document.createDocumentFragment();
  if (!withEmoji) {
    fragment.append(text(source));
    return fragment;
  }
  let from = 0;
  for (const match of source.matchAll(/:([a-z0-9_+'-]+):/g)) {
    if (!Object.hasOwn(EMOJI, match[1])) continue;
    fragment.append(text(source.slice(from, match.index)), emoji(match[1]));
    from = match.index + match[0].length;
  }
  fragment.append(text(source.slice(from)));
  return fragment;
}

export function textObject(object) {
  if (!object || typeof object.text !== "string") return document.createDocumentFragment();
  if (object.type === "mrkdwn") return mrkdwn(object.text);
  return plainText(object.text, object.emoji !== false);
}

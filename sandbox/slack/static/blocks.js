// Block Kit blocks to DOM nodes. A button calls `onPress(element, target, node)`; the page
// decides what a press does (confirm dialog, then the click sent to the bot).
import { el, holding } from "./dom.js";
import { EMOJI, channelLabel, textObject, userLabel } from "./mrkdwn.js";

export function renderBlocks(blocks, target, onPress) {
  const container = el("div", "blocks");
  for (const block of blocks) container.append(renderBlock(block, target, onPress));
  return container;
}

function renderBlock(block, target, onPress) {
  switch (block.type) {
    case "header": {
      const node = el("div", "block block-header", "block-header");
      node.setAttribute("role", "heading");
      node.setAttribute("aria-level", "3");
      node.append(textObject(block.text));
      return node;
    }
    case "section": {
      const node = el("div", "block block-section", "block-section");
      const main = el("div", "section-main");
      if (block.text) main.append(holding(el("div", "section-text"), textObject(block.text)));
      if (Array.isArray(block.fields)) {
        const fields = el("div", "section-fields");
        for (const field of block.fields) {
          fields.append(holding(el("div", "section-field"), textObject(field)));
        }
        main.append(fields);
      }
      node.append(main);
      if (block.accessory) {
        const accessory = el("div", "section-accessory");
        accessory.append(renderElement(block.accessory, target, onPress));
        node.append(accessory);
      }
      return node;
    }
    case "context": {
      const node = el("div", "block block-context", "block-context");
      for (const element of block.elements || []) {
        const item = el("span", "context-item");
        if (element.type === "image") item.textContent = `[${element.alt_text || "image"}]`;
        else item.append(textObject(element));
        node.append(item);
      }
      return node;
    }
    case "divider":
      return el("hr", "block block-divider", "block-divider");
    case "actions": {
      const node = el("div", "block block-actions", "block-actions");
      node.setAttribute("role", "group");
      for (const element of block.elements || []) {
        node.append(renderElement(element, target, onPress));
      }
      return node;
    }
    case "image": {
      const node = el("div", "block block-image", "block-image");
      node.textContent = `[image: ${block.alt_text || block.title?.text || ""}]`;
      return node;
    }
    case "rich_text": {
      const node = el("div", "block block-rich-text", "block-rich-text");
      node.textContent = richText(block);
      return node;
    }
    default: {
      const node = el("div", "block block-unsupported", "block-unsupported");
      node.textContent = `[unsupported block: ${block.type}]`;
      return node;
    }
  }
}

function richText(node) {
  if (typeof node.text === "string") return node.text;
  if (node.type === "user") return "@" + userLabel(node.user_id);
  if (node.type === "channel") return "#" + channelLabel(node.channel_id);
  if (node.type === "emoji") return EMOJI[node.name] || `:${node.name}:`;
  return (node.elements || []).map(richText).join("");
}

function renderElement(element, target, onPress) {
  if (element.type !== "button") {
    const node = el("span", "unsupported-element");
    node.textContent = `[${element.type}]`;
    return node;
  }
  const style = element.style === "primary" || element.style === "danger" ? element.style : "";
  const button = el("button", "btn" + (style ? " btn-" + style : ""), "block-button");
  button.type = "button";
  button.dataset.actionId = element.action_id || "";
  if (element.accessibility_label) button.setAttribute("aria-label", element.accessibility_label);
  button.append(textObject(element.text));
  button.addEventListener("click", () => onPress(element, target, button));
  return button;
}

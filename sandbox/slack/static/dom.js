// DOM helpers. Strings only ever become text nodes: nothing here parses markup.

export function el(tag, className, testid) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (testid) node.dataset.testid = testid;
  return node;
}

export function text(value) {
  return document.createTextNode(value);
}

export function holding(node, ...children) {
  node.append(...children);
  return node;
}

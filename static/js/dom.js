// Safe DOM building: every string becomes a text node or an attribute value, never markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(parent, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(parent, c);
  } else if (typeof child === 'string' || typeof child === 'number') {
    parent.appendChild(document.createTextNode(String(child)));
  } else {
    parent.appendChild(child);
  }
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'value' && 'value' in el) {
      el.value = value;
    } else if (key === 'checked' && 'checked' in el) {
      el.checked = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

/** An HTML element: h('p', {class: 'x'}, 'text', child). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element (for charts drawn from numbers). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** Replace the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Parse an SVG document string from the API into a node, keeping only drawing elements and attributes.
 * The chart SVG is produced by our own server, but it is still parsed as XML (never HTML) and scrubbed.
 */
export function safeSvg(markup) {
  const doc = new DOMParser().parseFromString(markup, 'image/svg+xml');
  const root = doc.documentElement;
  if (!root || root.nodeName !== 'svg') return null;
  const allowed = new Set(['svg', 'g', 'rect', 'line', 'polyline', 'polygon', 'path', 'circle', 'ellipse', 'text',
    'tspan', 'title', 'desc', 'defs', 'pattern', 'clipPath', 'linearGradient', 'stop', 'style', 'use', 'marker']);
  const walk = (node) => {
    for (const child of [...node.children]) {
      if (!allowed.has(child.localName)) {
        child.remove();
        continue;
      }
      for (const attr of [...child.attributes]) {
        const name = attr.name.toLowerCase();
        if (name.startsWith('on') || (/href$/.test(name) && !attr.value.startsWith('#'))) child.removeAttribute(attr.name);
      }
      walk(child);
    }
  };
  walk(root);
  return document.importNode(root, true);
}

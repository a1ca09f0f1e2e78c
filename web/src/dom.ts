// A few lines of DOM building: the page has a handful of screens, no framework needed for them.

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

export function replace(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  append(parent, children);
}

export function select(name: string, label: string, options: string[], value: string, onChange: (value: string) => void, emptyLabel = "any"): HTMLLabelElement {
  const control = h("select", { name, onchange: (event: Event) => onChange((event.target as HTMLSelectElement).value) },
    h("option", { value: "" }, emptyLabel),
    options.map((option) => h("option", { value: option, selected: option === value }, option)));
  return h("label", { class: "field" }, h("span", {}, label), control);
}

let toastTimer: number | undefined;

/** A short message at the bottom of the page; errors stay until the next one. */
export function toast(message: string, kind: "info" | "error" = "info"): void {
  const element = document.getElementById("toast");
  if (!element) return;
  element.textContent = message;
  element.dataset.kind = kind;
  element.hidden = false;
  window.clearTimeout(toastTimer);
  if (kind === "info") toastTimer = window.setTimeout(() => (element.hidden = true), 4000);
}

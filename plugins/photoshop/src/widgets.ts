// Reading and filling UXP's Spectrum widgets (sp-picker, sp-textfield, ...),
// shared by the panel's parts. UXP's sp-* elements expose value / checked /
// selectedIndex; the Chromium test's shim does the same.

/** A Spectrum widget as the panel uses it. */
export type Widget = HTMLElement & { value?: string; checked?: boolean; selectedIndex?: number };

export interface Option {
  value: string;
  label: string;
}

export function byId(root: Document, id: string): Widget {
  const found = root.getElementById(id);
  if (!found) throw new Error(`index.html lacks #${id}`);
  return found as Widget;
}

export function pickerValue(picker: Widget): string {
  if (typeof picker.value === "string" && picker.value) return picker.value;
  const items = [...picker.querySelectorAll("sp-menu-item")];
  const index = typeof picker.selectedIndex === "number" && picker.selectedIndex >= 0 ? picker.selectedIndex : items.findIndex((i) => i.hasAttribute("selected"));
  return items[index]?.getAttribute("value") ?? "";
}

export function setPicker(picker: Widget, value: string): void {
  const items = [...picker.querySelectorAll("sp-menu-item")];
  items.forEach((item) => (item.getAttribute("value") === value ? item.setAttribute("selected", "") : item.removeAttribute("selected")));
  const index = items.findIndex((i) => i.getAttribute("value") === value);
  if (index >= 0) {
    picker.selectedIndex = index;
    picker.value = value;
  }
}

export function setOptions(root: Document, picker: Widget, options: Option[], selected: string): void {
  const menu = picker.querySelector("sp-menu") ?? picker;
  menu.replaceChildren(
    ...options.map(({ value, label }) => {
      const item = root.createElement("sp-menu-item");
      item.setAttribute("value", value);
      item.textContent = label;
      return item;
    }),
  );
  setPicker(picker, selected);
}

export function enable(widget: Widget, on: boolean): void {
  if (on) widget.removeAttribute("disabled");
  else widget.setAttribute("disabled", "");
}

/** One removable entry of a list: its text and an sp-action-button that calls `remove`. */
export function chip(root: Document, text: string, removeLabel: string, remove: () => void): HTMLLIElement {
  const item = root.createElement("li");
  const label = root.createElement("span");
  label.textContent = text;
  const button = root.createElement("sp-action-button");
  button.textContent = "Remove";
  button.setAttribute("aria-label", removeLabel);
  button.addEventListener("click", remove);
  item.append(label, button);
  return item;
}

// Just enough of UXP's Spectrum widgets for Chromium, so the real panel code
// runs unchanged in the browser test: sp-textfield / sp-textarea / sp-picker /
// sp-checkbox / sp-slider expose `value` / `checked` like UXP's do, disabled
// sp-buttons swallow clicks, sp-progressbar draws its value. Test-only.

function inner<T extends HTMLElement>(host: HTMLElement, tag: string, setup: (el: T) => void): T {
  let el = host.querySelector<T>(`:scope > ${tag}.shim`);
  if (!el) {
    el = document.createElement(tag) as T;
    el.className = "shim";
    setup(el);
    host.prepend(el);
  }
  return el;
}

class TextField extends HTMLElement {
  get input(): HTMLInputElement | HTMLTextAreaElement {
    const multi = this.localName === "sp-textarea";
    return inner<HTMLInputElement>(this, multi ? "textarea" : "input", (el) => {
      if (!multi) el.type = this.getAttribute("type") ?? "text";
      el.placeholder = this.getAttribute("placeholder") ?? "";
      el.value = this.getAttribute("value") ?? "";
    });
  }
  connectedCallback(): void {
    void this.input;
  }
  get value(): string {
    return this.input.value;
  }
  set value(v: string) {
    this.input.value = v;
  }
}

class Picker extends HTMLElement {
  private observer = new MutationObserver(() => this.sync());
  get select(): HTMLSelectElement {
    return inner<HTMLSelectElement>(this, "select", (el) => el.addEventListener("change", (e) => {
      e.stopPropagation();
      this.dispatchEvent(new Event("change", { bubbles: true }));
    }));
  }
  connectedCallback(): void {
    this.sync();
    this.observer.observe(this, { subtree: true, childList: true, attributes: true, attributeFilter: ["selected"] });
  }
  private sync(): void {
    const select = this.select;
    const items = [...this.querySelectorAll("sp-menu-item")];
    const options = items.map((item) => new Option(item.textContent ?? "", item.getAttribute("value") ?? "", false, item.hasAttribute("selected")));
    this.observer.disconnect();
    select.replaceChildren(...options);
    if (this.isConnected) this.observer.observe(this, { subtree: true, childList: true, attributes: true, attributeFilter: ["selected"] });
  }
  get value(): string {
    return this.select.value;
  }
  set value(v: string) {
    this.select.value = v;
  }
  get selectedIndex(): number {
    return this.select.selectedIndex;
  }
  set selectedIndex(i: number) {
    this.select.selectedIndex = i;
  }
}

class Checkbox extends HTMLElement {
  get box(): HTMLInputElement {
    return inner<HTMLInputElement>(this, "input", (el) => (el.type = "checkbox"));
  }
  connectedCallback(): void {
    void this.box;
  }
  get checked(): boolean {
    return this.box.checked;
  }
  set checked(v: boolean) {
    this.box.checked = v;
  }
}

class Slider extends HTMLElement {
  get range(): HTMLInputElement {
    return inner<HTMLInputElement>(this, "input", (el) => {
      el.type = "range";
      el.min = this.getAttribute("min") ?? "0";
      el.max = this.getAttribute("max") ?? "100";
      el.value = this.getAttribute("value") ?? "0";
    });
  }
  connectedCallback(): void {
    void this.range;
  }
  get value(): string {
    return this.range.value;
  }
  set value(v: string) {
    this.range.value = v;
  }
}

class Button extends HTMLElement {
  connectedCallback(): void {
    this.setAttribute("role", "button");
    this.addEventListener("click", (e) => {
      if (this.hasAttribute("disabled")) e.stopImmediatePropagation();
    }, { capture: true });
  }
}

class ProgressBar extends HTMLElement {
  static observedAttributes = ["value"];
  attributeChangedCallback(): void {
    const fill = inner<HTMLDivElement>(this, "div", (el) => (el.style.cssText = "height:4px;background:#378ef0;border-radius:2px"));
    fill.style.width = `${Number(this.getAttribute("value") ?? 0)}%`;
  }
}

export function installSpectrumShim(): void {
  customElements.define("sp-textfield", TextField);
  customElements.define("sp-textarea", class extends TextField {});
  customElements.define("sp-picker", Picker);
  customElements.define("sp-checkbox", Checkbox);
  customElements.define("sp-slider", Slider);
  customElements.define("sp-button", Button);
  customElements.define("sp-action-button", class extends Button {});
  customElements.define("sp-progressbar", ProgressBar);
  const style = document.createElement("style");
  style.textContent = `
    sp-textfield input, sp-textarea textarea, sp-picker select { width: 100%; box-sizing: border-box; background: #1f1f1f; color: #e6e6e6; border: 1px solid #555; border-radius: 4px; padding: 4px 6px; font: inherit; }
    sp-textarea textarea { min-height: 48px; }
    sp-picker > sp-menu { display: none; }
    sp-button, sp-action-button { display: inline-block; padding: 4px 14px; border-radius: 14px; border: 2px solid #8a8a8a; cursor: pointer; user-select: none; }
    sp-action-button { padding: 2px 8px; border-radius: 4px; border-width: 1px; }
    sp-button[variant="cta"] { background: #378ef0; border-color: #378ef0; color: white; }
    sp-button[disabled] { opacity: 0.4; cursor: default; }
    sp-progressbar { display: block; background: #4a4a4a; border-radius: 2px; margin: 4px 0; }
    sp-checkbox { display: flex; align-items: center; gap: 4px; }
    sp-slider input { width: 100%; }
  `;
  document.head.append(style);
}

// The panel's reference images: nodes of the file picked with "Use selection as
// reference", each a chip with a weight and what it carries. The main thread
// exports each node when a job goes; here only the choice is kept.
import { MAX_REFERENCES, type ReferenceChoice } from "../core/brief.js";

export class ReferenceList {
  constructor(private readonly list: HTMLElement) {}

  /** Adds the node (once: picking it again keeps its chip), or the sentence saying why not. */
  add(nodeId: string, name: string): string | null {
    if (this.list.querySelector(`[data-node="${CSS.escape(nodeId)}"]`)) return null;
    if (this.list.childElementCount >= MAX_REFERENCES) return `A job takes at most ${MAX_REFERENCES} reference images: remove one first.`;
    const chip = document.createElement("div");
    chip.className = "chip";
    chip.dataset.node = nodeId;
    chip.innerHTML = `<span></span><input type="number" min="0" max="2" step="0.1" value="0.6" aria-label="weight"><select aria-label="carries"><option value="all">content and look</option><option value="style">look only</option></select><button type="button" class="link" aria-label="remove">×</button>`;
    chip.querySelector("span")!.textContent = name;
    chip.querySelector("button")!.addEventListener("click", () => chip.remove());
    this.list.append(chip);
    return null;
  }

  choices(): ReferenceChoice[] {
    return [...this.list.querySelectorAll<HTMLElement>(".chip")].map((chip) => ({
      nodeId: chip.dataset.node!,
      name: chip.querySelector("span")!.textContent ?? "",
      weight: Math.min(2, Math.max(0, Number(chip.querySelector("input")!.value) || 0)),
      focus: chip.querySelector("select")!.value === "style" ? "style" : "all",
    }));
  }
}

/** Disjoint sets of strings. */
export class UnionFind {
  readonly #parent = new Map<string, string>();
  add(x: string): void {
    if (!this.#parent.has(x)) this.#parent.set(x, x);
  }
  find(x: string): string {
    let root = x;
    while (this.#parent.get(root) !== root) root = this.#parent.get(root)!;
    this.#parent.set(x, root);
    return root;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.#parent.set(rb, ra);
  }
  groups(): string[][] {
    const out = new Map<string, string[]>();
    for (const x of this.#parent.keys()) {
      const r = this.find(x);
      out.set(r, [...(out.get(r) ?? []), x]);
    }
    return [...out.values()];
  }
}

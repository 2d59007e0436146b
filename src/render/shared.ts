/**
 * Text that every node of a site renders alike — HAProxy frontends and backends, Icinga2 objects —
 * made for the first node and taken by the others: the nodes differ in a few lines of each file.
 * One per site render (`renderSite`), so it only ever sees one model and one layout.
 */
export class SharedParts {
  private readonly parts = new Map<string, string>();

  /** The part named `key`, made by `make` on first use. */
  get(key: string, make: () => string): string {
    let part = this.parts.get(key);
    if (part === undefined) {
      part = make();
      this.parts.set(key, part);
    }
    return part;
  }
}

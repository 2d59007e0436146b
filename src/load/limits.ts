/**
 * How much of a site the loader reads. Every file under services/ is written by a team and
 * treated as hostile: these bounds keep a site from exhausting memory or the stack, each reported
 * as `E_LIMIT` at the file or folder that crossed it. They sit far above any real site.
 */
export interface LoadLimits {
  /**
   * Bytes in one file. Intent files are a few hundred bytes, certificate bundles a few KiB; a
   * parsed YAML file costs ~18× its size in memory, so 1 MiB keeps any one file near 20 MB.
   */
  fileBytes: number;
  /**
   * Files and folders below services/ and in the certificate folder, together. Twice the 10,000
   * services the compile benchmark loads (docs/benchmarks.md); a HAProxy site holds at most
   * 10,000 instances (one stats port each) anyway.
   */
  entries: number;
  /** Bytes of all files read, together: 10,000 services of 3 KiB, and room to spare. */
  totalBytes: number;
  /**
   * Collections nested in one YAML file (the root map is 1). Intent nests about 5 deep; both YAML
   * readers and every later stage recurse per level, and 64 keeps them far from the stack's end.
   */
  depth: number;
}

export const LOAD_LIMITS: Readonly<LoadLimits> = {
  fileBytes: 1 << 20,
  entries: 20_000,
  totalBytes: 64 << 20,
  depth: 64,
};

/** TCP connections the checks of this process have opened (checks.ts, kept-http.ts), for metrics. */
let opened = 0;

export function countConnection(): void {
  opened++;
}

export function checkConnectionsOpened(): number {
  return opened;
}

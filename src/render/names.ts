/** BIRD static protocol that carries one instance's VIP routes (shared by bird and healthd renderers). */
export function birdVipProtocol(instance: string): string {
  return `vip_${instance.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

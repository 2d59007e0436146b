import { z } from 'zod';
import {
  defaultsSchema,
  dnsSchema,
  inventorySchema,
  serviceSchema,
  siteSchema,
} from '../vocabulary/schemas.ts';

export const SCHEMA_KINDS = {
  service: serviceSchema,
  defaults: defaultsSchema,
  site: siteSchema,
  inventory: inventorySchema,
  dns: dnsSchema,
} as const;

export type SchemaKind = keyof typeof SCHEMA_KINDS;

/** JSON Schema (draft-07) of one kind of intent file, for editors with the YAML language server. */
export function jsonSchema(kind: SchemaKind): object {
  const s = z.toJSONSchema(SCHEMA_KINDS[kind], { target: 'draft-7', unrepresentable: 'any', io: 'input' });
  return { ...s, title: `intentlb ${kind} file` };
}

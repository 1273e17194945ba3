/** A property type in a Batch request model (see models.generated.ts). */
export type PropType = 'string' | 'number' | 'boolean' | 'datetime' | 'duration' | 'any' | { enum: string[] } | { model: string } | { array: PropType; maxItems?: number };

export interface PropSpec {
  t: PropType;
  required?: boolean;
}

export type ModelTable = Record<string, Record<string, PropSpec>>;

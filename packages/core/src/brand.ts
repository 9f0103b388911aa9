/**
 * Brands: how an error class is recognised when an app holds two copies of a package
 * (two versions installed side by side, or one bundled twice). `instanceof` compares
 * class identities, and each copy has its own class; a brand is a property keyed by a
 * process-wide symbol (`Symbol.for`), which every copy names alike.
 */
export function brandSymbol(className: string): symbol {
  return Symbol.for(`@blockvfs/${className}`);
}

/** Marks `target` with `brand` (not enumerable, so it stays out of logs and JSON). */
export function setBrand(target: object, brand: symbol): void {
  Object.defineProperty(target, brand, { value: true, enumerable: false });
}

export function hasBrand(value: unknown, brand: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

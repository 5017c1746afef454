/**
 * Exact non-negative fractions, for the products of task C: floating-point products of
 * equal fractions taken in different orders differ in the last bit and break ties
 * differently from an exact implementation (EVAL.md 4).
 */
export class Fraction {
  private constructor(
    readonly numerator: bigint,
    readonly denominator: bigint,
  ) {}

  static of(numerator: number, denominator: number): Fraction {
    if (!Number.isInteger(numerator) || !Number.isInteger(denominator) || denominator <= 0) {
      throw new RangeError(`Fraction needs integers and a positive denominator`);
    }
    return new Fraction(BigInt(numerator), BigInt(denominator));
  }

  static readonly ONE = new Fraction(1n, 1n);

  times(other: Fraction): Fraction {
    return new Fraction(this.numerator * other.numerator, this.denominator * other.denominator);
  }

  /** Sign of this - other, by cross-multiplication (denominators are positive). */
  compare(other: Fraction): number {
    const left = this.numerator * other.denominator;
    const right = other.numerator * this.denominator;
    return left < right ? -1 : left > right ? 1 : 0;
  }

  toNumber(): number {
    return Number(this.numerator) / Number(this.denominator);
  }
}

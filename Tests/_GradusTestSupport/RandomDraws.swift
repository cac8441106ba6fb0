import Glibc
import GradusRuntime

/// Seeded draws for the tests that generate random golden cases from spec references (the runtime's Philox stream).
public struct RandomDraws {
    public var stream: PhiloxStream
    public init(seed: UInt64) { stream = PhiloxStream(seed: seed) }
    /// Uniform in [a, b).
    public mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * stream.nextDouble() }
    /// 10^uniform(log10 a, log10 b).
    public mutating func logUniform(_ a: Double, _ b: Double) -> Double { pow(10, uniform(log10(a), log10(b))) }
    /// Uniform in a...b.
    public mutating func int(_ a: Int, _ b: Int) -> Int { a + stream.nextInt(below: b - a + 1) }
    public mutating func coin() -> Bool { stream.nextUInt32() & 1 == 1 }
}

/// A tensor in the golden files' encoding (`{"shape": [...], "data": [row-major values]}`).
public func goldenTensor(_ shape: [Int], _ data: [Double]) -> JSON {
    .object(["shape": .array(shape.map { .number(Double($0)) }), "data": .array(data.map { .number($0) })])
}

// Section "Testing" of include/gradus.h: the one deliberately unguarded export.
import _GradusShims

private let lookupTable: [Int32] = [10, 20, 30, 40]

/// Indexes a Swift array with no validation on purpose: an out-of-range index traps (SIGILL), which the
/// Python and C tests use to prove that a trap kills the host, and so why every other export validates first.
@c @implementation public func gradus_testing_unguarded_lookup(_ index: Int32) -> Int32 {
    lookupTable[Int(index)]
}

import CBLAS

/// OpenBLAS thread control. The rule: while the pool runs parallel work BLAS runs single-threaded;
/// to give BLAS the cores, park the pool first (`Runtime.withParallelBLAS`). Never both hot: a spinning
/// pool made a 2-thread sgemm 5–9× slower on a 2-core machine.
///
/// `openblas_set_num_threads` is process-global and does not reach the separate OpenBLAS that numpy loads.
public enum BLASThreading {
    /// The OpenBLAS thread count now in force.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// Sets the OpenBLAS thread count (OpenBLAS caps it at its build maximum and the core count).
    /// Throws `GradusError.invalidArgument` outside 1...4096.
    public static func setThreadCount(_ n: Int) throws(GradusError) {
        guard (1...RuntimeOptions.maxThreads).contains(n) else {
            throw .invalidArgument("BLAS thread count \(n) out of range 1...\(RuntimeOptions.maxThreads)")
        }
        apply(n)
    }

    static func apply(_ n: Int) {
        if Int(openblas_get_num_threads()) != n { openblas_set_num_threads(Int32(n)) }
    }
}
